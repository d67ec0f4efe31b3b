// TLS end to end with real processes: `enclave serve --tls-cert/--tls-key` with a certificate made by
// the `openssl` command; `enclave chat --tls --ca` logs in and chats; `openssl s_client` gets in with
// TLS 1.2 but is refused with TLS 1.1; a plain-text client on the TLS port reads nothing a person
// could read; and a non-loopback `--listen` without TLS or `--insecure-bind` fails with a clear error.
import Foundation
import Testing

/// Runs a command to the end; returns its status and combined output.
private func shell(_ executable: String, _ arguments: [String], stdin: String = "", in directory: URL) throws
    -> (status: Int32, output: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let output = Pipe()
    let input = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = input
    try process.run()
    input.fileHandleForWriting.write(Data(stdin.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite(.serialized) struct TLSTests {
    static let openssl = "/usr/bin/openssl"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs the openssl command"))
    func chatOverTLSAndRefuseOldOrPlainClients() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("models"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let made = try shell(
            Self.openssl,
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", "key.pem", "-out", "cert.pem",
            ], in: directory)
        try #require(made.status == 0, "\(made.output)")
        try FileManager.default.createSymbolicLink(
            at: directory.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
            withDestinationURL: EnclaveBinary.packageRoot.appendingPathComponent(
                "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        try "limits:\n  max_tokens: 4\n".write(
            to: directory.appendingPathComponent("enclave.yaml"), atomically: true, encoding: .utf8)

        let server = Process()
        server.executableURL = EnclaveBinary.url
        server.arguments = [
            "serve", "--listen", "127.0.0.1:0", "--config", "enclave.yaml", "--tls-cert", "cert.pem",
            "--tls-key", "key.pem",
        ]
        server.currentDirectoryURL = directory
        let log = directory.appendingPathComponent("serve.out")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        server.standardOutput = try FileHandle(forWritingTo: log)
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        var lines: [String] = []
        for _ in 0..<600 where server.isRunning {
            lines = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if lines.contains(where: { $0.contains("listening on") }) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let listening = try #require(lines.first { $0.contains("listening on 127.0.0.1:") }, "\(lines)")
        #expect(listening.contains("(TLS)"))
        let port = Int(listening.split(separator: ":")[1].prefix(while: \.isNumber)) ?? 0
        let password = try #require(
            lines.firstIndex { $0.contains("one-time password") }.map {
                lines[$0 + 1].trimmingCharacters(in: .whitespaces)
            })

        // enclave chat over TLS, trusting the test's certificate.
        let chat = try shell(
            EnclaveBinary.url.path, ["chat", "--tls", "--ca", "cert.pem", "--port", "\(port)", "--user", "admin"],
            stdin: "\(password)\n/whoami\nHello\n/quit\n", in: directory)
        #expect(chat.status == 0, "\(chat.output)")
        #expect(chat.output.contains("OK user=admin role=admin"), "\(chat.output)")
        #expect(chat.output.contains("OK conversation="), "\(chat.output)")
        #expect(chat.output.hasSuffix("OK bye\n"), "\(chat.output)")
        // Without --ca the self-signed certificate is not trusted: no session.
        let untrusted = try shell(
            EnclaveBinary.url.path, ["chat", "--tls", "--port", "\(port)"], stdin: "/quit\n", in: directory)
        #expect(untrusted.status != 0)
        #expect(!untrusted.output.contains("* enclave"))
        #expect(untrusted.output.contains("not trusted: pass --ca"), "\(untrusted.output)")
        // A plain `enclave chat` is told that the port speaks TLS.
        let plainChat = try shell(
            EnclaveBinary.url.path, ["chat", "--port", "\(port)"], stdin: "/quit\n", in: directory)
        #expect(plainChat.status != 0)
        #expect(plainChat.output.contains("connect with --tls"), "\(plainChat.output)")

        // TLS 1.2 gets the banner; TLS 1.1 is refused during the handshake (the client side allows
        // TLS 1.1 explicitly, so the refusal is the server's).
        let modern = try shell(
            Self.openssl, ["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_2", "-quiet"], stdin: "/quit\n",
            in: directory)
        #expect(modern.output.contains("* enclave"), "\(modern.output)")
        let old = try shell(
            Self.openssl,
            ["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-quiet"],
            stdin: "/quit\n", in: directory)
        #expect(old.status != 0)
        #expect(!old.output.contains("* enclave"))
        #expect(old.output.contains("alert") || old.output.contains("version"), "\(old.output)")

        // A plain-text client gets no protocol text (at most a binary TLS alert), then the server closes.
        let plain = try ChatLoadClient(port: port, timeout: .seconds(10))
        plain.send("/login admin \(password)")
        let received = plain.readToEnd()
        let text = String(decoding: received, as: UTF8.self)
        #expect(!text.contains("enclave") && !text.contains("OK") && !text.contains("ERR"))
        #expect(received.allSatisfy { $0 != UInt8(ascii: "\n") })

        server.terminate()
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
    }

    @Test func aNonLoopbackAddressWithoutTLSIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let refused = try EnclaveBinary.run(["serve", "--listen", "0.0.0.0:0"], in: directory)
        #expect(refused.status != 0)
        #expect(
            refused.stderr.contains("refusing to listen on 0.0.0.0 without TLS")
                && refused.stderr.contains("--insecure-bind"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("listening"))
    }
}
