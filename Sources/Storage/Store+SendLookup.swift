// The send path's one read of a conversation: its owner, sticky provider and tags, from one indexed
// row. Unlike `conversation(_:)` it neither opens the title nor counts the messages, so its cost does
// not grow with the conversation (a chat message used to pay for a COUNT over all earlier messages,
// twice).
internal import Foundation

/// What sending a message needs to know about its conversation before deciding where it may go.
public struct ConversationHead: Sendable, Equatable {
    public var id: ConversationID
    public var owner: String
    /// The sticky provider, once one has been chosen.
    public var provider: String?
    /// Every tag of the conversation (opened).
    public var tags: Set<String>

    public init(id: ConversationID, owner: String, provider: String?, tags: Set<String>) {
        self.id = id
        self.owner = owner
        self.provider = provider
        self.tags = tags
    }
}

extension Store {
    /// The owner, sticky provider and tags of conversation `id`, or nil if it does not exist.
    /// Throws `integrity` when the owner or the sealed tags fail to authenticate (the owner is bound into
    /// the data key's wrapping).
    public func head(_ id: ConversationID) throws -> ConversationHead? {
        let row = try mapErrors {
            try db.query(
                "SELECT owner, provider, tags, wrapped_key, key_version FROM conversations WHERE id = ?",
                [id.rawValue]
            ).first
        }
        guard let row else { return nil }
        let key = try (row[3].bytes ?? []).withUnsafeBytes {
            try dataKey(id, owner: row[0].string ?? "", wrapped: $0, version: row[4].int ?? 0)
        }
        let tags = try open(row[2].bytes ?? [], key: key, aad: tagsAAD(id), row: "conversations row \(id) tags")
        return ConversationHead(id: id, owner: row[0].string ?? "", provider: row[1].string, tags: Self.decode(tags))
    }
}
