// The transport as `nc` and `telnet` users meet it, over real loopback sockets driven by blocking
// clients on threads of their own (EnclaveClient's `LineClient`, and the real `nc` where installed):
// half-close after sending, a 64 KiB line whose `ERR` the client reads, telnet's Ctrl-C, a line of
// control characters, a TLS port that nobody handshakes with, and internal errors that name an incident.
// Telnet byte values are from RFC 854/860; expected lines are from PROTOCOL.md.
import ChatCore
import ChatCoreTestSupport
import EnclaveClient
import Foundation
import Logging
import Synchronization
import Testing

@testable import ChatServer

@Suite struct TransportTests {
    /// IAC IP, then IAC DO TIMING-MARK: what telnet sends for Ctrl-C (RFC 854, RFC 860).
    static let telnetCtrlC: [UInt8] = [0xFF, 0xF4, 0xFF, 0xFD, 0x06]
    /// IAC WILL TIMING-MARK: the answer telnet waits for before it shows output again.
    static let willTimingMark = "\u{FFFD}\u{FFFD}\u{06}"

    @Test func aClientThatHalfClosesGetsEveryAnswerAndALastLineWithoutLF() async throws {
        try await TestServer.with { server in
            let port = server.server.port
            let text = try await LineClient.onThread {
                let client = try LineClient(port: port, timeout: .seconds(120))
                try client.sendRaw(Array("/login alice alice-password\nwhat is the capital\n/whoami".utf8))
                client.shutdownWrite()
                return String(decoding: client.readToEnd(), as: UTF8.self)
            }
            let finals = text.split(separator: "\n").filter { LineClient.isFinal(String($0)) }
            #expect(finals.count == 3, "\(text)")
            #expect(finals.first?.hasPrefix("OK user=alice") == true)
            #expect(finals.dropFirst().first?.hasPrefix("OK conversation=") == true)
            #expect(finals.last?.hasPrefix("OK user=alice") == true)
            #expect(text.contains("> what is the capital\n"))
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/nc"), "needs nc"))
    func printfIntoNcWithDashNGetsTheAnswer() async throws {
        try await TestServer.with { server in
            let port = server.server.port
            let output = try await LineClient.onThread {
                let nc = Process()
                nc.executableURL = URL(fileURLWithPath: "/bin/nc")
                nc.arguments = ["-N", "127.0.0.1", "\(port)"]
                let input = Pipe()
                let output = Pipe()
                nc.standardInput = input
                nc.standardOutput = output
                try nc.run()
                input.fileHandleForWriting.write(Data("/login bob bob-password-1\nhello there\n".utf8))
                try input.fileHandleForWriting.close()
                let data = output.fileHandleForReading.readDataToEndOfFile()
                nc.waitUntilExit()
                return String(decoding: data, as: UTF8.self)
            }
            #expect(output.contains("OK user=bob"), "\(output)")
            #expect(output.contains("> hello there\nOK conversation="), "\(output)")
        }
    }

    @Test(arguments: [false, true])
    func aSixtyFourKiBLinesErrorReachesTheClientBeforeTheClose(loggedIn: Bool) async throws {
        try await TestServer.with { server in
            let port = server.server.port
            let (error, rest) = try await LineClient.onThread {
                let client = try LineClient(port: port, timeout: .seconds(120))
                try client.readBanner()
                if loggedIn { _ = try client.exchange("/login alice alice-password") }
                try client.sendRaw(Array(repeating: UInt8(ascii: "x"), count: 64 << 10) + [0x0A])
                var line = try client.readLine()
                while line.hasPrefix("* ") { line = try client.readLine() }
                return (line, client.readToEnd())
            }
            let limit = loggedIn ? 16 << 10 : 1 << 10
            #expect(error == "ERR line-too-long a line may hold at most \(limit) bytes; closing")
            #expect(rest.isEmpty)
        }
    }

    @Test func telnetCtrlCStopsTheReplyIsAnsweredAndTheSessionGoesOn() async throws {
        try await TestServer.with(
            gateway: TestProvider.paced(name: "paced", words: 40, pause: .milliseconds(250)).gateway
        ) { server in
            let port = server.server.port
            let (reply, next) = try await LineClient.onThread {
                let client = try LineClient(port: port, timeout: .seconds(120))
                try client.readBanner()
                _ = try client.exchange("/login alice alice-password")
                try client.send("a long question")
                try client.waitFor("> ")
                try client.sendRaw(Self.telnetCtrlC)
                var lines: [String] = []
                while lines.last.map({ LineClient.isFinal($0.replacingOccurrences(of: Self.willTimingMark, with: "")) })
                    != true
                {
                    lines.append(try client.readLine())
                }
                return (lines, try client.exchange("/whoami"))
            }
            let text = reply.joined(separator: "\n")
            #expect(text.contains(Self.willTimingMark), "telnet's DO TIMING-MARK was not answered: \(text)")
            let final = reply.last?.replacingOccurrences(of: Self.willTimingMark, with: "") ?? ""
            #expect(final.hasPrefix("OK conversation=") && final.hasSuffix(" stop=cancelled"), "\(final)")
            #expect(!text.contains("w39"), "the reply ran to its end")
            #expect(next.last?.hasPrefix("OK user=alice") == true)
        }
    }

    @Test func anInterruptBetweenRepliesDoesNotStopTheNextOne() async throws {
        try await TestServer.with { server in
            try await server.client { client in
                try await client.login("alice", "alice-password")
                try await client.sendRaw([0xFF, 0xF4, 0xFF, 0xFC, 0x01])  // IAC IP, IAC WONT ECHO (no answer)
                let final = try await client.final("one two three")
                #expect(final.hasPrefix("OK conversation=") && !final.contains("stop="), "\(final)")
            }
        }
    }

    @Test func aLineOfControlCharactersIsRefusedAndNotSent() async throws {
        try await TestServer.with { server in
            try await server.client { client in
                try await client.login("alice", "alice-password")
                let arrows = try await client.final("\u{1B}\u{1B} \t\u{7F}\u{1}\u{85}")
                #expect(arrows.hasPrefix("ERR bad-encoding "), "\(arrows)")
                #expect(try await client.final("/list") == "OK conversations=0")
            }
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl"))
    func theTLSPortClosesAConnectionThatNeverStartsTLS() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-keyout", directory.appendingPathComponent("key.pem").path,
            "-out", directory.appendingPathComponent("cert.pem").path,
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
        try await TestServer.with(configure: {
            $0.tls = .init(
                certificatePath: directory.appendingPathComponent("cert.pem").path,
                keyPath: directory.appendingPathComponent("key.pem").path)
            $0.idleBeforeLogin = .seconds(1)
        }) { server in
            let port = server.server.port
            // Without the fix the connection stays open until the client's own 60 s timeout; with it the
            // server closes after its 1 s idle limit (bounded at 45 s: a full parallel run on two busy cores
            // once took 21 s).
            let seconds = try await LineClient.onThread {
                let client = try LineClient(port: port, timeout: .seconds(60))
                let start = ContinuousClock.now
                _ = client.readToEnd()
                return (ContinuousClock.now - start) / .seconds(1)
            }
            #expect(seconds < 45, "a silent client on the TLS port was kept \(seconds) s")
        }
    }

    @Test func anInternalErrorNamesAnIncidentThatTheLogHolds() async throws {
        let records = LogRecords()
        let logger = Logger(label: "incident-test") { _ in records }
        try await TestServer.with(logger: logger) { server in
            try await server.client { client in
                // The login's audit record cannot be written: the login does not happen.
                server.audit.setFailing(true)
                let final = try await client.final("/login alice alice-password")
                server.audit.setFailing(false)
                let id = try #require(final.split(separator: " ").drop { $0 != "incident" }.dropFirst().first)
                #expect(final.hasPrefix("ERR internal "), "\(final)")
                #expect(id.count == 8 && id.allSatisfy(\.isHexDigit), "\(final)")
                let logged = try #require(records.entries.first { $0.metadata["incident.id"] == String(id) })
                #expect(logged.level == .error)
                #expect(logged.metadata["error.type"] == "CocoaError", "\(logged.metadata)")
                #expect(logged.metadata["error.location"]?.hasPrefix("ChatCore/") == true, "\(logged.metadata)")
            }
        }
    }
}

/// Log entries kept in memory (level, message, metadata as strings).
final class LogRecords: LogHandler, Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let stored = Mutex<[Entry]>([])
    var entries: [Entry] { stored.withLock { $0 } }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let entry = Entry(
            level: event.level, message: "\(event.message)",
            metadata: (event.metadata ?? [:]).mapValues { "\($0)" })
        stored.withLock { $0.append(entry) }
    }
}
