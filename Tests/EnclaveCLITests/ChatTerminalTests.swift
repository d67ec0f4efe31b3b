// `enclave chat` as a person at a terminal meets it: the built binary runs on a pseudo-terminal
// (posix_openpt) against a real `enclave serve` with the real model, and the test types into the
// terminal the bytes a terminal sends (xterm's bracketed paste is ESC[200~ ... ESC[201~). It proves a
// typed `/login` is not shown, a multi-line paste is one message (dot-stuffing included, read back with
// `/history`, whose line breaks are rendered), the speed line after a reply, and that after the server
// restarts the next line reconnects and logs in again.
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The bytes a process wrote to its terminal, gathered by a reader thread.
final class TerminalOutput: Sendable {
    let bytes = Mutex<[UInt8]>([])

    /// Reads `master` until it closes.
    func read(from master: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.read(master, &buffer, buffer.count)
            guard count > 0 else { return }
            bytes.withLock { $0 += buffer[..<count] }
        }
    }
}

/// A process on a pseudo-terminal: what it wrote, and a way to type.
final class PseudoTerminal {
    private let master: Int32
    private let output = TerminalOutput()
    let process = Process()

    init(_ executable: URL, _ arguments: [String], in directory: URL) throws {
        // posix_openpt and friends are not visible through Glibc; their Linux implementation is this:
        // open the multiplexer, unlock the new terminal (TIOCSPTLCK) and ask its number (TIOCGPTN).
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0
        var number: Int32 = 0
        guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            throw CocoaError(.fileReadUnknown)
        }
        let terminal = try #require(FileHandle(forUpdatingAtPath: "/dev/pts/\(number)"))
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = terminal
        process.standardOutput = terminal
        process.standardError = terminal
        try process.run()
        try terminal.close()
        Thread { [output, master] in output.read(from: master) }.start()
    }

    /// Everything the process wrote so far.
    var text: String { output.bytes.withLock { String(decoding: $0, as: UTF8.self) } }

    func type(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { write(master, $0.baseAddress, $0.count) } }

    /// Waits until the output after `offset` holds `needle` (at most `seconds`); the new offset, or nil.
    func waitFor(_ needle: String, after offset: String.Index? = nil, seconds: Double = 120) -> String.Index? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let text = text
            let start = offset.map { min($0, text.endIndex) } ?? text.startIndex
            if let range = text[start...].range(of: needle) { return range.upperBound }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    deinit {
        if process.isRunning { process.terminate() }
        close(master)
    }
}

@Suite(.serialized) struct ChatTerminalTests {
    @Test func pasteLoginHistorySpeedAndReconnectOnAPseudoTerminal() throws {
        let served = try ServedDirectory(users: ["nurse"], configuration: "limits:\n  max_tokens: 6\n")
        try #require(served.port > 0, "enclave serve did not start")
        let chat = try PseudoTerminal(EnclaveBinary.url, ["chat", "--port", "\(served.port)"], in: served.directory)
        var at = try #require(chat.waitFor("you> "), "no prompt: \(chat.text)")

        chat.type("/login nurse nurse-password\r")
        at = try #require(chat.waitFor("OK user=nurse", after: at), "\(chat.text)")
        #expect(!chat.text.contains("nurse-password"), "the password was shown: \(chat.text)")

        // A paste of three lines, one starting with a dot, then Enter: one message.
        chat.type("\u{1B}[200~first line\r\nsecond line\r.third line\u{1B}[201~\r")
        at = try #require(chat.waitFor("OK conversation=", after: at), "\(chat.text)")
        at = try #require(chat.waitFor("tokens/s", after: at), "no speed line: \(chat.text)")
        chat.type("/history\r")
        let history = try #require(chat.waitFor("OK messages=", after: at), "\(chat.text)")
        let rows = String(chat.text[at..<history])
        #expect(rows.contains("    first line\r\n    second line\r\n    .third line\r\n"), "\(rows)")
        at = history

        // The server restarts on the same port; the next line reconnects and logs in again.
        served.process.terminate()
        served.process.waitUntilExit()
        let again = Process()
        again.executableURL = EnclaveBinary.url
        again.arguments = ["serve", "--listen", "127.0.0.1:\(served.port)", "--config", "enclave.yaml"]
        again.currentDirectoryURL = served.directory
        let log = served.directory.appendingPathComponent("again.out")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        again.standardOutput = try FileHandle(forWritingTo: log)
        again.standardError = FileHandle.nullDevice
        try again.run()
        defer { if again.isRunning { again.terminate() } }
        for _ in 0..<600 where again.isRunning {
            if ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("listening on") { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        chat.type("/whoami\r")
        at = try #require(chat.waitFor("was lost; reconnecting to send your line", after: at), "\(chat.text)")
        _ = try #require(chat.waitFor("OK user=nurse role=staff groups=", after: at), "\(chat.text)")

        chat.type("/quit\r")
        let deadline = Date().addingTimeInterval(30)
        while chat.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!chat.process.isRunning && chat.process.terminationStatus == 0, "\(chat.text)")
    }

    @Test func connectionFailuresBecomeSentences() throws {
        // A plain line server of our own (it greets like Enclave), on a free port.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        Thread {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            let banner = Array("* enclave test ready\n".utf8)
            _ = banner.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while read(connection, &buffer, buffer.count) > 0 {}
            close(connection)
        }.start()

        // TLS to a plain-text port: the handshake fails, and the sentence says to drop --tls.
        let plain = try EnclaveBinary.run(["chat", "--tls", "--port", "\(port)"], stdin: "/quit\n")
        #expect(plain.status != 0)
        #expect(plain.stdout.contains("if that port speaks plain text, drop --tls"), "\(plain.stdout)")

        // Nothing listening (the port just released).
        close(listener)
        let refused = try EnclaveBinary.run(["chat", "--port", "\(port)"], stdin: "/quit\n")
        #expect(refused.status != 0)
        #expect(refused.stdout.contains("nothing is listening at 127.0.0.1:\(port)"), "\(refused.stdout)")
    }
}
