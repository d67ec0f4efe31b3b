// The health listener's default address is the chat port + 1, which nobody asked for: another program
// holding that port must not stop `enclave serve` on a first run. An address the operator configured
// that cannot be bound still stops it, with the reason.
import EnclaveClient
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized) struct HealthPortTests {
    /// A listening TCP socket on a free loopback port, held until `close`.
    private static func occupy() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard fd >= 0, bound else { throw LineClientError(description: "cannot occupy a port") }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Starts `serve` in a fresh directory with `arguments`; returns the process and its output file.
    private static func serve(_ arguments: [String], in directory: URL) throws -> (Process, URL) {
        let output = directory.appendingPathComponent("serve-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = EnclaveBinary.url
        process.arguments =
            [
                "serve", "--model",
                EnclaveBinary.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path,
            ]
            + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: output)
        try process.run()
        return (process, output)
    }

    @Test func aTakenDefaultHealthPortDoesNotStopTheChatServerButATakenConfiguredOneDoes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-hp-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let blocker = try Self.occupy()
        defer { close(blocker.fd) }
        let chatPort = blocker.port - 1

        // Default health address (chat port + 1) taken: the server starts and says so.
        let (process, output) = try Self.serve(["--listen", "127.0.0.1:\(chatPort)"], in: directory)
        defer { if process.isRunning { process.terminate() } }
        var text = ""
        for _ in 0..<1200 where process.isRunning && !text.contains("listening on") {
            Thread.sleep(forTimeInterval: 0.1)
            text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        }
        try #require(text.contains("listening on 127.0.0.1:\(chatPort)"), "\(text)")
        #expect(text.contains("no health listener (127.0.0.1:\(blocker.port) is taken"), "\(text)")
        let client = try ChatLoadClient(port: chatPort, timeout: .seconds(60))
        #expect(client.readBanner())
        process.terminate()
        process.waitUntilExit()

        // The same address configured explicitly: serve refuses to start.
        let (explicit, explicitOutput) = try Self.serve(
            ["--listen", "127.0.0.1:0", "--health-listen", "127.0.0.1:\(blocker.port)"], in: directory)
        explicit.waitUntilExit()
        #expect(explicit.terminationStatus != 0)
        let said = (try? String(contentsOf: explicitOutput, encoding: .utf8)) ?? ""
        #expect(!said.contains("listening on"), "\(said)")
    }
}
