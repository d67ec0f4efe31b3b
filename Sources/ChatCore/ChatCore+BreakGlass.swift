// Break-glass: `/audit open <conversation> <reason...>` shows a conversation's messages to a compliance
// officer, the one way that role ever sees content (DESIGN.md §3, §6). The order is the point: the
// role is checked (others get `forbidden`, audited), then the `audit.break-glass` record is written
// durably, and only then are the messages read and returned; if the record cannot be written nothing
// is shown (`internal`). The officer's reason is free text and may itself name a patient or client, so
// it is never stored in the clear: the record keeps its keyed HMAC and length, which lets an
// investigator later check a written justification against the record without the log holding it.
// Message text is never audited.
import Foundation
import Storage

extension ChatCore {
    /// The audit action of a break-glass opening.
    public static let breakGlassAction = "audit.break-glass"
    /// The shortest reason accepted, so that a reason is a sentence rather than a keystroke.
    public static let minimumBreakGlassReason = 10
    /// The longest reason accepted.
    public static let maximumBreakGlassReason = 1000

    /// `/audit open <conversation> <reason...>` (compliance): audits first, then returns the messages as
    /// `= seq TAB role TAB time TAB text` rows.
    /// - Parameter arguments: the words after `open`: the conversation id, then the reason.
    public func breakGlass(_ arguments: [String], as user: Principal, origin: String) async throws(ChatFailure)
        -> CommandResult
    {
        try await require(.compliance, user, command: "audit", origin: origin)
        guard let conversation = arguments.first else {
            throw ChatFailure(.badArguments, "usage: /audit open <conversation> <reason...>")
        }
        let reason = arguments.dropFirst().joined(separator: " ")
        guard reason.count >= Self.minimumBreakGlassReason, reason.count <= Self.maximumBreakGlassReason else {
            throw ChatFailure(
                .badArguments,
                "break-glass needs a reason of \(Self.minimumBreakGlassReason)-\(Self.maximumBreakGlassReason) characters"
            )
        }
        let id = try Self.conversationID(conversation)
        guard try await step({ try await store.conversation(id) }) != nil else {
            throw ChatFailure(.notFound, "no conversation \(id)")
        }
        let hashedReason: String
        do {
            hashedReason = try audit.pseudonym(reason)
        } catch {
            throw .internal(error)
        }
        try await record(
            actor: user.name, role: user.role.rawValue, origin: origin, action: Self.breakGlassAction,
            subject: "conversation:\(id)", outcome: "ok",
            detail: "reason-hmac=\(hashedReason) reason-chars=\(reason.count)")
        let messages = try await step { try await store.history(id, limit: nil) }
        let rows = messages.map { message -> ChatOutput in
            .row([String(message.seq), message.role, Self.timestamp(message.created), Self.field(message.body)])
        }
        return CommandResult(output: rows, ok: "conversation=\(id) messages=\(messages.count) break-glass=audited")
    }
}
