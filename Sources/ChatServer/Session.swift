// One connection's session: the state machine connected → authenticated → closed, the current
// conversation and model, and the dispatch of each client line to ChatCore. Every client line gets
// exactly one final line (`OK ...` or `ERR ...`), in order; a `/paste` block counts as one line.
import ChatCore
import Foundation
import Logging
import NIOCore
import Storage

/// The per-connection protocol state and command dispatch.
struct Session {
    enum Phase: Equatable {
        case connected
        case authenticated(Principal)
        case closed
    }

    /// What the connection loop does after a line.
    enum Next {
        case keepReading
        case close
    }

    let core: ChatCore
    let configuration: ServerConfiguration
    let origin: String
    let lineLimit: LineLimit
    let state: ConnectionState
    let shuttingDown: @Sendable () -> Bool
    let logger: Logger
    private(set) var phase = Phase.connected
    private var conversation: String?
    private var model: String?
    private var paste: PasteBuffer?

    init(
        core: ChatCore, configuration: ServerConfiguration, origin: String, lineLimit: LineLimit,
        state: ConnectionState, shuttingDown: @escaping @Sendable () -> Bool, logger: Logger
    ) {
        self.core = core
        self.configuration = configuration
        self.origin = origin
        self.lineLimit = lineLimit
        self.state = state
        self.shuttingDown = shuttingDown
        self.logger = logger
    }

    var principal: Principal? {
        if case .authenticated(let principal) = phase { return principal }
        return nil
    }

    /// Answers one framed unit of input.
    mutating func handle(_ frame: InboundFrame, writer: LineWriter) async throws -> Next {
        guard case .line(let bytes) = frame else {
            try await writer.error(
                ChatFailure(.lineTooLong, "a line may hold at most \(lineLimit.value) bytes; closing"))
            return .close
        }
        guard let line = String(validating: bytes.readableBytesView, as: UTF8.self) else {
            return try await answer(ChatFailure(.badEncoding, "lines must be UTF-8 text"), writer)
        }
        if line.utf8.contains(0) {
            return try await answer(ChatFailure(.badEncoding, "lines must not contain NUL bytes"), writer)
        }
        if paste != nil { return try await continuePaste(line, writer: writer) }
        switch CommandParser.parse(line) {
        case .empty:
            return .keepReading
        case .invalid(let failure):
            if principal == nil, failure.code == .unknownCommand {
                return try await answer(Self.authRequired, writer)
            }
            return try await answer(failure, writer)
        case .message(let text):
            guard let user = principal else { return try await answer(Self.authRequired, writer) }
            return try await send(text, as: user, writer: writer)
        case .command(let command):
            guard command.allowedBeforeLogin || principal != nil else {
                return try await answer(Self.authRequired, writer)
            }
            return try await run(command, writer: writer)
        }
    }

    private static let authRequired = ChatFailure(.authRequired, "log in first: /login <user> <password>")

    private func answer(_ failure: ChatFailure, _ writer: LineWriter) async throws -> Next {
        try await writer.error(failure)
        return .keepReading
    }

    // MARK: Commands

    private mutating func run(_ command: Command, writer: LineWriter) async throws -> Next {
        do {
            switch command {
            case .login(let name, let password):
                return try await login(name: name, password: password, writer: writer)
            case .quit:
                if let user = principal { await core.logout(user, origin: origin, reason: "quit") }
                phase = .closed
                try await writer.ok("bye")
                return .close
            case .help:
                for line in Self.help(authenticated: principal != nil) + configuration.notices {
                    try await writer.notice(line)
                }
                try await writer.ok()
                return .keepReading
            case .paste:
                paste = PasteBuffer(limit: configuration.pasteLimit)
                try await writer.notice(
                    "paste mode: end with a line holding only \".\"; start lines with \"..\" for \".\"")
                return .keepReading
            default:
                guard let user = principal else { return try await answer(Self.authRequired, writer) }
                try await writer.result(try await authenticated(command, user))
                return .keepReading
            }
        } catch let failure as ChatFailure {
            return try await answer(failure, writer)
        }
    }

    private mutating func login(name: String, password: String, writer: LineWriter) async throws -> Next {
        if let user = principal {
            return try await answer(
                ChatFailure(.badArguments, "already logged in as \(user.name); /logout first"), writer)
        }
        let loggedOrigin = configuration.logClientAddresses ? origin : core.pseudonym(origin)
        let user: Principal
        do {
            user = try await core.login(name: name, password: password, origin: origin)
        } catch {
            // Failed logins reach the server log with their origin (never the typed name: it is sometimes
            // a password typed into the wrong field); the audit log has the pseudonymised details.
            if error.code == .authFailed || error.code == .lockedOut {
                logger.warning(
                    error.logNote == "lockout" ? "auth.lockout" : "auth.failed",
                    metadata: ["session.origin": "\(loggedOrigin)", "auth.outcome": "\(error.code.rawValue)"])
            }
            throw error
        }
        phase = .authenticated(user)
        state.principal = user
        lineLimit.value = configuration.lineLimitAfterLogin
        logger.info(
            "session.login", metadata: ["session.origin": "\(loggedOrigin)", "user.role": "\(user.role.rawValue)"])
        if user.mustChangePassword {
            try await writer.notice(ChatCore.oneTimePasswordNotice)
        }
        try await writer.ok("user=\(user.name) role=\(user.role.rawValue)")
        return .keepReading
    }

    /// The commands that need a login; returns their result or throws a `ChatFailure`.
    private mutating func authenticated(_ command: Command, _ user: Principal) async throws -> CommandResult {
        switch command {
        case .passwd(let current, let new):
            let updated = try await core.changePassword(current: current, new: new, as: user, origin: origin)
            phase = .authenticated(updated)
            state.passwordChanged(to: updated)
            return CommandResult(ok: "password changed")
        case .logout:
            await core.logout(user, origin: origin, reason: "logout")
            phase = .connected
            state.principal = nil
            lineLimit.value = configuration.lineLimitBeforeLogin
            conversation = nil
            model = nil
            return CommandResult(ok: "logged out")
        case .whoami:
            return core.whoami(user)
        case .new(let title):
            let id = try await core.newConversation(title: title, as: user)
            conversation = id
            return CommandResult(ok: "conversation=\(id)")
        case .list:
            return try await core.list(as: user, origin: origin)
        case .open(let id):
            let result = try await core.open(id, as: user, origin: origin)
            conversation = id
            return result
        case .history(let limit):
            return try await core.history(try current(), limit: limit, as: user, origin: origin)
        case .delete(let id):
            let result = try await core.delete(id, as: user, origin: origin)
            if conversation == id { conversation = nil }
            return result
        case .models:
            return try await core.models(conversation: conversation, selected: model, as: user, origin: origin)
        case .model(let name):
            let result = try await core.selectModel(name)
            model = name
            return result
        case .tag(let tag):
            if conversation == nil { conversation = try await core.newConversation(title: nil, as: user) }
            return try await core.tag(tag, conversation: try current(), as: user, origin: origin)
        case .tags:
            return try await core.tags(conversation: try current(), as: user, origin: origin)
        case .feedback(let up, let comment):
            return try await core.feedback(
                up: up, comment: comment, conversation: try current(), as: user, origin: origin)
        case .audit(let arguments):
            return try await core.auditQuery(arguments, as: user, origin: origin)
        case .reload:
            return try await core.reload(as: user, origin: origin)
        case .login, .quit, .help, .paste:
            throw ChatFailure(.internal, "unreachable")
        }
    }

    private func current() throws -> String {
        guard let conversation else { throw ChatFailure(.notFound, "no conversation open; /new or /open <id>") }
        return conversation
    }

    // MARK: Messages

    private mutating func continuePaste(_ line: String, writer: LineWriter) async throws -> Next {
        switch paste?.add(line) {
        case .more, nil:
            return .keepReading
        case .tooLong:
            paste = nil
            try await writer.error(
                ChatFailure(.lineTooLong, "a paste may hold at most \(configuration.pasteLimit) bytes; closing"))
            return .close
        case .done(let text):
            paste = nil
            guard let user = principal else { return try await answer(Self.authRequired, writer) }
            guard !text.isEmpty else {
                return try await answer(ChatFailure(.badArguments, "the paste was empty"), writer)
            }
            return try await send(text, as: user, writer: writer)
        }
    }

    private mutating func send(_ text: String, as user: Principal, writer: LineWriter) async throws -> Next {
        // An interrupt sent while no reply was running must not stop this one.
        let state = state
        _ = state.takeInterrupt()
        var formatter = StreamedTextFormatter()
        var writeFailed = false
        do {
            let summary = try await core.send(
                text, conversation: conversation, requestedModel: model, as: user, origin: origin,
                emit: { output in
                    switch output {
                    case .text(let piece):
                        do {
                            try await writer.raw(formatter.format(piece))
                        } catch {
                            writeFailed = true
                            throw error
                        }
                    case .notice(let notice):
                        try await writer.raw(formatter.finish())
                        try await writer.notice(notice)
                    case .row(let fields):
                        try await writer.raw(formatter.finish())
                        try await writer.row(fields)
                    }
                },
                stopReason: {
                    // The client's interrupt (telnet IAC IP: Ctrl-C) stops the reply after this piece, and so do
                    // the end of the session (its account changed) and the server's shutdown.
                    if state.takeInterrupt() { return "cancelled" }
                    if state.sessionEnd != nil { return "session-ended" }
                    return shuttingDown() ? "shutdown" : nil
                })
            conversation = summary.conversation
            if writeFailed { return .close }
            // The end of the streamed text, any notice and the final line leave in one write.
            var ending = formatter.finish()
            if summary.stop == "shutdown" {
                ending += LineWriter.noticeLine("server shutting down; the reply was cut short")
            }
            try await writer.ok(summary.okText, after: ending)
        } catch let failure as ChatFailure {
            if writeFailed { return .close }
            try await writer.error(failure, after: formatter.finish())
        }
        return .keepReading
    }

    // MARK: Help

    static func help(authenticated: Bool) -> [String] {
        var lines = [
            "/login <user> <password>   start a session",
            "/quit                      close the connection",
            "/help                      this list",
        ]
        guard authenticated else { return lines }
        lines += [
            "any other line             a message to the current conversation (one is created if none)",
            "//text                     a message starting with /",
            "/paste                     a multi-line message, ended by a line with only \".\"",
            "/new [title]  /list  /open <id>  /history [n]  /delete <id>",
            "/models  /model <name>  /tag <tag>  /tags  /feedback up|down [comment]",
            "/whoami  /logout  /passwd <current> <new>  /audit ... (compliance)  /reload (admin)",
        ]
        return lines
    }
}
