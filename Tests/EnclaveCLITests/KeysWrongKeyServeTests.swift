// Done-when 4 through the real server: `enclave serve` started with a master key that does not match
// its database stops at start-up with a clear `wrong-master-key` message and a non-zero exit, and
// leaves the database file byte for byte unchanged (so its SHA-256 is unchanged too).
import Foundation
import Testing

@Suite(.serialized) struct KeysWrongKeyServeTests {
    @Test func serveRefusesAWrongMasterKeyAndLeavesTheDatabaseUntouched() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-wrongkey-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("models"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = EnclaveBinary.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
        try FileManager.default.createSymbolicLink(
            at: directory.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf"), withDestinationURL: model)
        // A data directory with a database and its key, as a first run leaves it.
        let added = try EnclaveBinary.run(
            ["users", "add", "alice", "--role", "staff", "--permanent"], stdin: "alice-password\n", in: directory)
        #expect(added.status == 0, "\(added.stderr)")
        let data = directory.appendingPathComponent("data")
        let database = data.appendingPathComponent("enclave.db").path
        // Swap in a different, well-formed key file.
        let other = data.appendingPathComponent("other.key").path
        #expect(try EnclaveBinary.run(["keys", "init", "--key-file", other], in: directory).status == 0)
        try FileManager.default.removeItem(atPath: data.appendingPathComponent("master.key").path)
        try FileManager.default.moveItem(atPath: other, toPath: data.appendingPathComponent("master.key").path)
        let before = try Data(contentsOf: URL(fileURLWithPath: database))

        let server = Process()
        server.executableURL = EnclaveBinary.url
        server.arguments = ["serve", "--listen", "127.0.0.1:0"]
        server.currentDirectoryURL = directory
        let errors = Pipe()
        server.standardOutput = FileHandle.nullDevice
        server.standardError = errors
        try server.run()
        // It must exit by itself; a server that starts listening would hang here, so bound the wait.
        for _ in 0..<600 where server.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        if server.isRunning { server.terminate() }
        server.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(server.terminationReason == .exit && server.terminationStatus != 0)
        #expect(stderr.contains("wrong-master-key"), "\(stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == before)
    }
}
