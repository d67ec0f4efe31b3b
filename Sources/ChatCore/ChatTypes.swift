// The values ChatCore exchanges with its transport: who is asking, what went wrong (as a stable wire
// code), and what a command produces. Nothing here knows about sockets; ChatServer renders these as
// protocol lines (`* `, `> `, `= `, `OK`, `ERR`).
import Foundation
public import Storage

/// An authenticated user, as a session holds it after `/login`.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var role: Role
    public var groups: [String]
    /// Logged in with a password chosen by someone else: only `/passwd` (and leaving) is allowed.
    public var mustChangePassword: Bool
    /// A process-local digest (`Hasher`) of the password hash the session logged in with: when the
    /// stored hash changes (a new password set elsewhere) the session ends. Never a password.
    var credential: Int

    public init(name: String, role: Role, groups: [String], mustChangePassword: Bool = false) {
        self.name = name
        self.role = role
        self.groups = groups
        self.mustChangePassword = mustChangePassword
        self.credential = 0
    }

    /// The same login: the same person with the same rights and the same password hash (a session that
    /// changed its password since is another login as far as the account check is concerned).
    public func isSameLogin(as other: Principal) -> Bool { self == other && credential == other.credential }

    /// The same person with the same rights; the credential digest is bookkeeping, not identity.
    public static func == (lhs: Principal, rhs: Principal) -> Bool {
        lhs.name == rhs.name && lhs.role == rhs.role && lhs.groups == rhs.groups
            && lhs.mustChangePassword == rhs.mustChangePassword
    }
}

/// A failure a client may see: a stable kebab-case code and a fixed, content-free text.
///
/// Only these reach the wire; any other error is logged by its type and answered `ERR internal`.
public struct ChatFailure: Error, Sendable, Equatable {
    /// The stable codes of DESIGN.md §3 plus `bad-encoding` (documented in PROTOCOL.md).
    public enum Code: String, Sendable, CaseIterable {
        case authRequired = "auth-required"
        case authFailed = "auth-failed"
        case lockedOut = "locked-out"
        case forbidden
        case unknownCommand = "unknown-command"
        case badArguments = "bad-arguments"
        case badEncoding = "bad-encoding"
        case lineTooLong = "line-too-long"
        case notFound = "not-found"
        case policyBlocked = "policy-blocked"
        case providerUnavailable = "provider-unavailable"
        case rateLimited = "rate-limited"
        case busy
        /// A stored row failed authentication (tampered or copied); the text names the conversation.
        case integrity
        case `internal`
    }

    public var code: Code
    public var text: String
    /// For `internal`: what the server log records about it (never sent to the client but its id).
    public var incident: Incident?
    /// For the server log only, never sent: `lockout` when this failed login locked the account (the
    /// client's answer is the same as for any failure, so the lock reveals nothing); for `integrity`,
    /// the storage's description of the row that failed, until the use case names the conversation.
    public var logNote: String?

    public init(_ code: Code, _ text: String) {
        self.code = code
        self.text = text
    }

    /// The protocol's final line for this failure, without the line feed.
    public var wireLine: String { "ERR \(code.rawValue) \(text)" }

    /// An internal error whose cause has no error value of its own (e.g. a record that failed earlier).
    public static func `internal`(file: String = #fileID, line: Int = #line) -> ChatFailure {
        .internal(Incident(cause: "unspecified", detail: "", at: "\(file):\(line)"))
    }

    /// An internal error caused by `error`: the client is told an incident id, the log gets the error.
    public static func `internal`(_ error: any Error, file: String = #fileID, line: Int = #line) -> ChatFailure {
        .internal(Incident(cause: "\(type(of: error))", detail: "\(error)", at: "\(file):\(line)"))
    }

    /// Two failures are the same when their codes are, and (but for `internal`, whose text names a fresh
    /// incident id each time) their texts.
    public static func == (lhs: ChatFailure, rhs: ChatFailure) -> Bool {
        lhs.code == rhs.code && (lhs.code == .internal || lhs.text == rhs.text)
    }

    /// The `internal` failure for `incident`; its text names the incident id.
    public static func `internal`(_ incident: Incident) -> ChatFailure {
        var failure = ChatFailure(.internal, "internal error; incident \(incident.id) is in the server log")
        failure.incident = incident
        return failure
    }
}

/// What the server log records about one internal error: a short random id (the client's `ERR internal`
/// names it, so an operator can find the entry), the original error's type and description, and where
/// it was caught. Error descriptions of the libraries below ChatCore carry codes and paths, not message
/// text; the detail is still cut short and kept to one line.
public struct Incident: Sendable, Equatable {
    public var id: String
    public var cause: String
    public var detail: String
    public var location: String

    public init(cause: String, detail: String, at location: String) {
        id = String(UInt32.random(in: 0...UInt32.max), radix: 16).leftPadded(to: 8)
        self.cause = cause
        self.detail = String(detail.unicodeScalars.prefix(300).map { $0.value < 0x20 ? " " : Character($0) })
        self.location = location
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

/// Output a command produces before its final line.
public enum ChatOutput: Sendable, Equatable {
    /// A `* ` line.
    case notice(String)
    /// Assistant text, streamed; may contain newlines.
    case text(String)
    /// A `= ` row; fields are joined with TAB.
    case row([String])
}

/// What a finished command answers: the rows and notices to print, then the `OK` text.
public struct CommandResult: Sendable, Equatable {
    public var output: [ChatOutput]
    /// The text after `OK ` (empty for a bare `OK`).
    public var ok: String

    public init(output: [ChatOutput] = [], ok: String = "") {
        self.output = output
        self.ok = ok
    }
}

/// The summary of one chat exchange, rendered as the reply's final `OK` line.
public struct SendSummary: Sendable, Equatable {
    public var conversation: String
    public var provider: String
    public var modelID: String
    public var tokens: Int
    public var milliseconds: Int
    /// Why the reply ended early, if it did (`shutdown`, `max-tokens`, ...).
    public var stop: String?

    /// `conversation=<id> provider=<name> model=<model_id> tokens=<n> ms=<n>[ stop=<why>]`.
    public var okText: String {
        var text =
            "conversation=\(conversation) provider=\(provider) model=\(modelID) tokens=\(tokens) ms=\(milliseconds)"
        if let stop { text += " stop=\(stop)" }
        return text
    }
}

extension ChatFailure {
    /// `policy-blocked`, naming the rule, the tags and the policy's reason (never content).
    public static func policyBlocked(rule: String, tags: Set<String>, provider: String? = nil, reason: String = "")
        -> ChatFailure
    {
        let shown = tags.isEmpty ? "none" : tags.sorted().joined(separator: ",")
        let verdict = provider.map { "\($0) is not allowed" } ?? "no provider is allowed"
        let why = reason.isEmpty ? "" : " (\(reason))"
        return ChatFailure(.policyBlocked, "rule=\(rule) tags=\(shown): \(verdict) for this conversation\(why)")
    }
}
