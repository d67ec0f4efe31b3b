// Integrity failures as events (issue 17). When the storage refuses a row because it does not
// authenticate (tampered, copied, renumbered, an owner or a role changed in SQL), the use case does not
// collapse it into `ERR internal`: it writes a server-log line naming the row (never its content), an
// audit record `storage.integrity`, counts it, and tells the client which conversation cannot be
// opened (`ERR integrity`). Other conversations are untouched: `/list` lists them and marks the
// damaged one.
import Storage
import Synchronization

/// One integrity failure as handed to the server log.
public struct IntegrityEvent: Sendable, Equatable {
    /// `conversation:<id>` or `user:<name>`.
    public var subject: String
    /// The storage's description of the row that failed (names the row, never content).
    public var detail: String
    /// Who was asking (their role; names stay in the audit log).
    public var role: String
    /// The failures counted by this process so far, this one included.
    public var count: Int

    public init(subject: String, detail: String, role: String, count: Int) {
        self.subject = subject
        self.detail = detail
        self.role = role
        self.count = count
    }
}

/// Where ChatCore's integrity events go (the server log); counts them.
public final class IntegrityEvents: Sendable {
    private let sink: @Sendable (IntegrityEvent) -> Void
    private let counter = Atomic<Int>(0)

    /// `sink` receives every event (a log line); by default events are only counted.
    public init(sink: @escaping @Sendable (IntegrityEvent) -> Void = { _ in }) {
        self.sink = sink
    }

    /// Integrity failures seen so far.
    public var count: Int { counter.load(ordering: .relaxed) }

    func report(subject: String, detail: String, role: String) {
        let count = counter.add(1, ordering: .relaxed).newValue
        sink(IntegrityEvent(subject: subject, detail: detail, role: role, count: count))
    }
}

extension ChatCore {
    /// The `= ` row `/list` shows for a damaged conversation: its id, then `-` fields and the mark.
    static let damagedMark = "integrity-failed"

    /// Logs, counts and audits (`storage.integrity`, outcome `refused`) one integrity failure.
    func reportIntegrity(_ detail: String, subject: String, actor: String, role: String, origin: String)
        async throws(ChatFailure)
    {
        integrity.report(subject: subject, detail: detail, role: role)
        ChatMetrics.integrityFailure(kind: subject.hasPrefix("user:") ? "user" : "conversation")
        try await record(
            actor: actor, role: role, origin: origin, action: "storage.integrity", subject: subject, outcome: "refused")
    }

    /// Runs a storage step for conversation `id`; an integrity failure is reported and answered
    /// `integrity` naming the conversation, anything else as `step` does.
    func checked<T>(_ id: ConversationID, _ user: Principal, origin: String, _ body: () async throws -> T)
        async throws(ChatFailure) -> T
    {
        try await namingIntegrity(of: id, user, origin: origin) { () async throws(ChatFailure) -> T in
            try await step(body)
        }
    }

    /// Runs the steps of a use case on conversation `id`: an integrity failure any step met (a message
    /// missing from the sealed count, found when the history is read or a message appended) is reported
    /// once and answered `integrity` naming the conversation.
    func namingIntegrity<T>(
        of id: ConversationID, _ user: Principal, origin: String, _ body: () async throws(ChatFailure) -> T
    ) async throws(ChatFailure) -> T {
        do {
            return try await body()
        } catch {
            guard error.code == .integrity, let detail = error.logNote else { throw error }
            try await reportIntegrity(
                detail, subject: "conversation:\(id)", actor: user.name, role: user.role.rawValue, origin: origin)
            throw Self.integrityFailure(id)
        }
    }

    /// The client's answer for a conversation that failed an integrity check.
    static func integrityFailure(_ id: ConversationID) -> ChatFailure {
        ChatFailure(
            .integrity,
            "conversation \(id) failed an integrity check and cannot be opened; the event was logged")
    }
}
