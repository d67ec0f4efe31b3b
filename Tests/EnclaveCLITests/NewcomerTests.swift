// A newcomer's path as the README tells it, with a plain socket standing in for `nc`: `enclave serve`
// in a fresh directory prints the admin's one-time password (once: a restart does not print it
// again); the person connects, logs in, sees which providers are allowed, asks a question and reads
// the streamed answer; every line the server sent is plain readable text.
import Foundation
import Testing

@Suite(.serialized) struct NewcomerTests {
    @Test func ncSessionOnAFreshDirectory() throws {
        let served = try ServedDirectory(configuration: "limits:\n  max_tokens: 8\n")
        defer { if served.process.isRunning { served.process.terminate() } }
        try #require(served.port > 0)
        #expect(served.printedPassword.count == 20)

        let nc = try ChatLoadClient(port: served.port)
        var banner: [String] = []
        while let line = nc.readLine() {
            banner.append(line)
            if line.hasPrefix("* type") { break }
        }
        #expect(banner.first?.hasPrefix("* enclave ") == true)
        #expect(nc.exchange("/login admin \(served.adminPassword)").final == "OK user=admin role=admin")
        // /models: one row per provider with its residency and whether policy allows it now.
        let models = nc.exchange("/models").lines
        let local = try #require(models.first { $0.hasPrefix("= local\t") }, "\(models)")
        let fields = local.split(separator: "\t", omittingEmptySubsequences: false)
        #expect(fields.count == 7 && fields[1] == "on-prem" && fields[4] == "allowed", "\(fields)")
        #expect(fields[6].hasPrefix("ctx=") && fields[6].contains("threads="), "\(fields)")
        #expect(models.last == "OK providers=1")
        // A question and its streamed answer.
        let reply = nc.exchange("What is the capital of France?")
        #expect(reply.lines.first?.hasPrefix("* provider=local residency=on-prem") == true, "\(reply.lines)")
        #expect(reply.firstToken != nil)
        #expect(reply.lines.contains { $0.hasPrefix("> ") && $0.count > 2 })
        #expect(reply.final?.hasPrefix("OK conversation=") == true)
        #expect(nc.exchange("/quit").final == "OK bye")
        // Everything sent was readable text: no control characters but TAB.
        for line in banner + models + reply.lines {
            #expect(line.unicodeScalars.allSatisfy { $0 == "\t" || $0.value >= 0x20 && $0.value != 0x7F }, "\(line)")
        }
        served.process.terminate()
        served.process.waitUntilExit()

        // A second start in the same directory keeps the account and prints no password.
        let again = Process()
        again.executableURL = EnclaveBinary.url
        again.arguments = ["serve", "--listen", "127.0.0.1:0", "--config", "enclave.yaml"]
        again.currentDirectoryURL = served.directory
        let output = served.directory.appendingPathComponent("serve-again.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        again.standardOutput = try FileHandle(forWritingTo: output)
        again.standardError = FileHandle.nullDevice
        try again.run()
        defer { if again.isRunning { again.terminate() } }
        var text = ""
        for _ in 0..<600 where again.isRunning && !text.contains("listening on") {
            Thread.sleep(forTimeInterval: 0.1)
            text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        }
        #expect(text.contains("listening on"))
        #expect(!text.contains("one-time password") && !text.contains(served.printedPassword))
        again.terminate()
        again.waitUntilExit()
        #expect(again.terminationStatus == 0)
    }
}
