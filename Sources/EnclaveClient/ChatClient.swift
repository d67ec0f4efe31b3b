// The client side used by `enclave chat`: connects (optionally over TLS), logs in, and relays lines
// between the person (or a script on stdin) and the server, showing server output as it arrives so
// replies appear while they stream. It waits for each line's final `OK`/`ERR` before sending the
// next, so a script behaves the same as a person typing.
//
// For people: a line with line breaks (a paste) is sent as one `/paste` block, dot-stuffed; Ctrl-C
// during a reply sends telnet's Interrupt Process (IAC IP, PROTOCOL.md), which stops that reply; a
// lost connection is said in words and the next line reconnects and logs in again with the
// credentials remembered in memory (zeroed on exit); connection and TLS failures become sentences
// (ChatConnection.swift).
import NIOCore
import NIOPosix

/// A line-protocol client for people and scripts.
public struct ChatClient: Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 7878
        public var user: String?
        public var tls = false
        /// A PEM file of certificate authorities to trust (default: the system's).
        public var caFile: String?
        /// A person reads the output: `/history` rows show their line breaks, replies their speed.
        public var forPeople = false

        public init() {}
    }

    public let options: Options
    private let input: any ChatInput
    private let write: @Sendable (String) -> Void

    public init(options: Options, input: any ChatInput, write: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.input = input
        self.write = write
    }

    /// How one connection ended.
    enum Ending {
        case quit
        case endOfInput
        /// The server went away; `unsent` is a line read but not yet sent.
        case lost(unsent: String?)
        /// The server refused the session (a busy banner, a failed login at start).
        case refused
    }

    /// Runs the session; returns a process exit status (0 when it ended with `/quit` or end of input).
    public func run() async -> Int32 {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { pool.shutdownGracefully { _ in } }
        var credentials: Credentials?
        defer { credentials?.wipe() }
        if let user = options.user {
            guard let password = try? await pool.runIfActive({ input.readSecret(prompt: "password: ") }) ?? nil
            else { return 1 }
            credentials = Credentials(user: user, password: password.utf8)
        }
        var unsent: String?
        var connected = false
        while true {
            if connected, unsent == nil {
                // After a loss the connection is made again when the person has something to send.
                guard let line = try? await pool.runIfActive({ input.nextLine() }) ?? nil else { return 0 }
                unsent = line
            }
            let ending: Ending
            do {
                let connection = try await ChatConnection.open(options)
                ending = try await connection.channel.executeThenClose { inbound, outbound in
                    var session = Conversation(
                        channel: connection.channel.channel, outbound: outbound, inbound: inbound.makeAsyncIterator(),
                        input: input, write: write, pool: pool, renderer: ReplyRenderer(forPeople: options.forPeople))
                    return try await session.run(credentials: &credentials, unsent: &unsent, reconnect: connected)
                }
            } catch {
                write("* " + ChatConnection.sentence(for: error, options: options) + "\n")
                if !connected { return 1 }
                if let line = unsent { write("* not sent: \(Self.describe(line))\n") }
                unsent = nil
                continue
            }
            switch ending {
            case .quit, .endOfInput: return 0
            case .refused: if !connected { return 1 }
            case .lost(let line):
                let next = line == nil ? "the next line reconnects" : "reconnecting to send your line"
                write("* the connection to \(options.host):\(options.port) was lost; \(next)\n")
                unsent = line
            }
            connected = true
        }
    }

    /// A line as it may be named on the screen (a `/login` or `/passwd` line without its passwords).
    static func describe(_ line: String) -> String {
        if LineEditor.isLogin(line) { return "/login ..." }
        if LineEditor.isPasswordChange(line) { return "/passwd ..." }
        return line.contains("\n") ? "the pasted text" : line
    }
}

/// One connection's exchange of lines.
private struct Conversation {
    let channel: any Channel
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let input: any ChatInput
    let write: @Sendable (String) -> Void
    let pool: NIOThreadPool
    var renderer: ReplyRenderer
    var lines: [String] = []

    /// Reads the banner, logs in, then relays lines until the session ends.
    mutating func run(credentials: inout Credentials?, unsent: inout String?, reconnect: Bool) async throws
        -> ChatClient.Ending
    {
        guard let first = try await readUntil({ $0.hasPrefix("* type") || ReplyRenderer.isFinal($0) }) else {
            throw ChatConnection.Failure.noBanner
        }
        if first.hasPrefix("ERR ") { return reconnect ? .lost(unsent: unsent) : .refused }
        if let login = credentials?.loginLine {
            try await send([login])
            guard let final = try await readUntil(ReplyRenderer.isFinal) else { return .lost(unsent: unsent) }
            if !final.hasPrefix("OK") {
                credentials?.wipe()
                credentials = nil
                if !reconnect { return .refused }
            }
        }
        while true {
            let next: String?
            if let line = unsent {
                next = line
                unsent = nil
            } else {
                let input = input
                next = try await pool.runIfActive { input.nextLine() }
            }
            guard let line = next else {
                guard channel.isActive else { return .endOfInput }
                try? await send(["/quit"])
                _ = try? await readUntil(ReplyRenderer.isFinal)
                return .endOfInput
            }
            if line.isEmpty { continue }
            guard channel.isActive else {
                try await showUnread()
                return .lost(unsent: line)
            }
            let wire = try await wireLines(for: line)
            renderer.historyRows = line.hasPrefix("/history")
            let channel = channel
            input.replyStarted {
                channel.writeAndFlush(ByteBuffer(bytes: ChatConnection.interrupt), promise: nil)
            }
            let final: String?
            do {
                try await send(wire)
                final = try await readUntil(ReplyRenderer.isFinal)
            } catch {
                final = nil
            }
            input.replyEnded()
            guard let final else { return .lost(unsent: nil) }
            let ok = final.hasPrefix("OK")
            if ok, LineEditor.isLogin(line) {
                credentials?.wipe()
                credentials = Credentials.parse(loginLine: line)
            }
            // A reconnect logs in with the password just chosen (the old one may have been one-time).
            if ok, LineEditor.isPasswordChange(line), let user = credentials?.user,
                let new = line.split(separator: " ").last
            {
                credentials?.wipe()
                credentials = Credentials(user: user, password: new.utf8)
            }
            if ok, line == "/logout" {
                credentials?.wipe()
                credentials = nil
            }
            if ok, line == "/quit" { return .quit }
        }
    }

    /// The protocol lines for one input line: a line with line breaks becomes a `/paste` block with
    /// each line starting with `.` doubled; a script's own `/paste` is followed by its lines up to `.`.
    private func wireLines(for line: String) async throws -> [String] {
        if line.contains("\n") {
            let body = line.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.hasPrefix(".") ? "." + $0 : String($0)
            }
            return ["/paste"] + body + ["."]
        }
        guard line == "/paste" else { return [line] }
        let input = input
        var block = [line]
        while let next = try await pool.runIfActive({ input.nextLine() }) {
            block.append(next)
            if next == "." { break }
        }
        if block.last != "." { block.append(".") }
        return block
    }

    private func send(_ lines: [String]) async throws {
        try await outbound.write(ByteBuffer(string: lines.map { $0 + "\n" }.joined()))
    }

    /// Shows whatever the server sent before it went away (e.g. `* idle timeout`).
    private mutating func showUnread() async throws {
        while (try? await nextLine()) ?? nil != nil {}
    }

    /// Reads (showing everything) up to the first line for which `isLast` holds; nil when the server closed.
    private mutating func readUntil(_ isLast: (String) -> Bool) async throws -> String? {
        while let line = try await nextLine() {
            if isLast(line) { return line }
        }
        return nil
    }

    private mutating func nextLine() async throws -> String? {
        while lines.isEmpty {
            guard let chunk = try await inbound.next() else { return nil }
            if ChatConnection.looksLikeTLS(chunk) { throw ChatConnection.Failure.speaksTLS }
            let (display, complete) = renderer.feed(chunk.readableBytesView)
            write(display)
            lines += complete
        }
        return lines.removeFirst()
    }
}
