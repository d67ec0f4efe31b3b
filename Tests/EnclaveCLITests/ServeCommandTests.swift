// `enclave serve` as a newcomer and an operator meet it: a fresh directory, the printed one-time
// admin password, `enclave chat` logging in and getting a streamed answer from the real model; and
// SIGTERM while ten clients wait for replies: each gets a final line and the server exits 0.
import Foundation
import Testing

/// A running `enclave serve` in its own temporary directory.
final class ServedDirectory {
    let directory: URL
    private(set) var process = Process()
    private(set) var output = URL(fileURLWithPath: "/dev/null")
    private(set) var port = 0
    /// The one-time password `serve` printed (already used: the harness chose `adminPassword` with it).
    private(set) var printedPassword = ""
    private(set) var adminPassword = ""

    /// Creates the directory, adds `users` (staff, password `<name>-password`), then starts the server.
    /// `prepare` may add files to the directory before the server starts.
    init(
        users: [String] = [], configuration: String? = nil, prepare: (URL) throws -> Void = { _ in }
    ) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("models"), withIntermediateDirectories: true)
        for user in users {
            let added = try EnclaveBinary.run(
                ["users", "add", user, "--role", "staff", "--permanent"], stdin: "\(user)-password\n", in: directory)
            guard added.status == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
        let model = EnclaveBinary.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
        try FileManager.default.createSymbolicLink(
            at: directory.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf"), withDestinationURL: model)
        try prepare(directory)
        var extraArguments: [String] = []
        if let configuration {
            let path = directory.appendingPathComponent("enclave.yaml")
            try configuration.write(to: path, atomically: true, encoding: .utf8)
            extraArguments = ["--config", path.path]
        }
        self.extraArguments = extraArguments
        try start()
    }

    private var extraArguments: [String] = []

    /// Stops the server (SIGTERM) and waits for it to exit.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// Starts the server again on the same directory (after `stop`), with the same arguments.
    func restart() throws {
        stop()
        process = Process()
        port = 0
        try start()
    }

    private func start() throws {
        output = directory.appendingPathComponent("serve.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = EnclaveBinary.url
        process.arguments = ["serve", "--listen", "127.0.0.1:0"] + extraArguments
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: output)
        let errors = directory.appendingPathComponent("serve.err")
        if !FileManager.default.fileExists(atPath: errors.path) {
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        }
        let errorHandle = try FileHandle(forWritingTo: errors)
        errorHandle.seekToEndOfFile()
        process.standardError = errorHandle
        try process.run()
        // Wait (up to 60 s) for "listening on 127.0.0.1:<port>".
        for _ in 0..<600 where process.isRunning {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening on 127.0.0.1:") }) {
                let after = line.split(separator: ":")[1]
                port = Int(after.prefix(while: \.isNumber)) ?? 0
                let lines = text.split(separator: "\n")
                if let index = lines.firstIndex(where: { $0.contains("one-time password (shown only now)") }) {
                    printedPassword = lines[index + 1].trimmingCharacters(in: .whitespaces)
                    adminPassword = try FirstAdmin.claim(port: port, printed: printedPassword)
                }
                return
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Runs `enclave chat` as `user` with `script` after the password; its output goes to a file.
    func chat(_ script: [String], user: String = "admin", password: String? = nil) throws -> (Process, URL) {
        let client = Process()
        client.executableURL = EnclaveBinary.url
        client.arguments = ["chat", "--port", String(port), "--user", user]
        let input = Pipe()
        let output = directory.appendingPathComponent("chat-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        client.standardInput = input
        client.standardOutput = try FileHandle(forWritingTo: output)
        client.standardError = FileHandle.nullDevice
        try client.run()
        let lines = [password ?? adminPassword] + script
        input.fileHandleForWriting.write(Data(lines.map { $0 + "\n" }.joined().utf8))
        try? input.fileHandleForWriting.close()
        return (client, output)
    }

    static func lines(_ output: URL) -> [String] {
        ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite(.serialized) struct ServeCommandTests {
    @Test func aNewcomerLogsInAndGetsAStreamedAnswer() throws {
        let served = try ServedDirectory()
        #expect(served.port > 0)
        #expect(served.printedPassword.count == 20)
        let mode =
            try FileManager.default.attributesOfItem(
                atPath: served.directory.appendingPathComponent("data").path)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        let keyMode =
            try FileManager.default.attributesOfItem(
                atPath: served.directory.appendingPathComponent("data/master.key").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let (client, output) = try served.chat(["What is the capital of France?", "/quit"])
        client.waitUntilExit()
        let lines = ServedDirectory.lines(output)
        #expect(lines.first == "* enclave 0.1.0 ready")
        #expect(lines.contains("OK user=admin role=admin"))
        #expect(lines.contains { $0.hasPrefix("> ") && $0.count > 2 })
        #expect(lines.contains { $0.hasPrefix("OK conversation=") && $0.contains("provider=local") })
        #expect(lines.last == "OK bye")
        served.process.terminate()
        served.process.waitUntilExit()
        #expect(served.process.terminationStatus == 0)
    }

    @Test func sigtermWhileTenClientsWaitGivesEachAFinalLineAndExitsZero() throws {
        let users = (0..<10).map { "user\($0)" }
        let served = try ServedDirectory(users: users)
        let clients = try users.map { user in
            try served.chat(
                ["Tell me a long story about a lighthouse keeper."], user: user, password: "\(user)-password")
        }
        // Wait (up to 120 s) until every message is routed, i.e. in flight.
        for _ in 0..<1200 {
            if clients.allSatisfy({ ServedDirectory.lines($0.1).contains { $0.hasPrefix("* provider=") } }) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        served.process.terminate()  // SIGTERM
        for (client, output) in clients {
            client.waitUntilExit()
            let lines = ServedDirectory.lines(output)
            let routed = try #require(lines.firstIndex { $0.hasPrefix("* provider=") }, "\(lines)")
            let finals = lines[routed...].filter { $0 == "OK" || $0.hasPrefix("OK ") || $0.hasPrefix("ERR ") }
            // Exactly one final line for the message (a reply that finished before the signal may be
            // followed by the client's own `/quit` → `OK bye`).
            #expect(finals.first?.hasPrefix("OK conversation=") == true, "\(lines)")
            #expect(finals.count == 1 || finals.last == "OK bye", "\(lines)")
        }
        served.process.waitUntilExit()
        #expect(served.process.terminationStatus == 0)
    }

    @Test func twentyClientsTwoMessagesEachAllGetCompleteReplies() throws {
        let users = (0..<20).map { "user\($0)" }
        let served = try ServedDirectory(users: users, configuration: "limits:\n  max_tokens: 12\n")
        let clients = try users.map { user in
            try served.chat(["Name a colour.", "Name a fruit."], user: user, password: "\(user)-password")
        }
        for (client, output) in clients {
            client.waitUntilExit()
            let replies = ServedDirectory.lines(output).filter { $0.hasPrefix("OK conversation=") }
            #expect(replies.count == 2, "\(ServedDirectory.lines(output))")
        }
        served.process.terminate()
        served.process.waitUntilExit()
        // Time to first token of every call, from the audit log's call records.
        let audit =
            (try? String(contentsOf: served.directory.appendingPathComponent("data/audit/audit.jsonl"), encoding: .utf8))
            ?? ""
        let ttfts = audit.split(separator: "\n").filter { $0.contains("\"action\":\"model.call\"") }.compactMap {
            line in
            line.range(of: "\"ttft_ms\":").flatMap { Int(line[$0.upperBound...].prefix(while: \.isNumber)) }
        }.sorted()
        #expect(ttfts.count == 40)
        if !ttfts.isEmpty {
            let p50 = ttfts[ttfts.count / 2]
            let p99 = ttfts[min(ttfts.count - 1, Int((Double(ttfts.count) * 0.99).rounded(.up)) - 1)]
            print("concurrency: 20 clients x 2 messages, max_tokens 12: TTFT p50 \(p50) ms, p99 \(p99) ms")
        }
    }
}
