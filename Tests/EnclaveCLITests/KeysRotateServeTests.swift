// `enclave keys rotate` run by an operator while `enclave serve` keeps running on the same data
// directory: the server must follow the rotation (re-reading the key file when the database names a
// master version it lacks), so history written before the rotation still opens and new
// conversations work, through the real binary, the real model and a real socket.
import Foundation
import Testing

@Suite(.serialized) struct KeysRotateServeTests {
    /// Runs one `enclave chat` session to its end and returns its output lines.
    func session(_ served: ServedDirectory, _ script: [String]) throws -> [String] {
        let (client, output) = try served.chat(script)
        client.waitUntilExit()
        return ServedDirectory.lines(output)
    }

    @Test func aRunningServerFollowsAKeyRotation() throws {
        let served = try ServedDirectory()
        #expect(served.port > 0)
        let before = try session(served, ["/new before", "canary-before-rotation", "/quit"])
        let conversation = try #require(
            before.first { $0.hasPrefix("OK conversation=") && !$0.contains("provider=") }?
                .dropFirst("OK conversation=".count).prefix(20))

        let rotated = try EnclaveBinary.run(["keys", "rotate"], in: served.directory)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("rotated to master key version 2"))
        #expect(served.process.isRunning)

        let after = try session(
            served, ["/open \(conversation)", "/history", "canary-after-rotation", "/new after", "fresh", "/quit"])
        #expect(!after.contains { $0.hasPrefix("ERR") }, "\(after)")
        #expect(after.contains { $0.hasPrefix("= ") && $0.contains("canary-before-rotation") })
        #expect(after.filter { $0.hasPrefix("OK conversation=") && $0.contains("provider=") }.count == 2)
        let history = try session(served, ["/open \(conversation)", "/history", "/quit"])
        #expect(history.contains { $0.hasPrefix("= ") && $0.contains("canary-after-rotation") })

        let status = try EnclaveBinary.run(["keys", "status"], in: served.directory)
        #expect(status.status == 0)
        #expect(status.stdout.contains("version 1\tretired\t0 data keys"))
        #expect(status.stdout.contains("version 2\tactive\t2 data keys"))
        served.process.terminate()
        served.process.waitUntilExit()
        #expect(served.process.terminationStatus == 0)
    }
}
