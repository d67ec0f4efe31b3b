// Reading back the thumbs up/down and comments given on a conversation: the part of a person's data
// besides their messages that a right-of-access export must hold. Comments are sealed like message
// bodies (AAD: the feedback row, its conversation and the user who gave it).
public import Foundation

/// One piece of feedback, its comment opened.
public struct FeedbackRecord: Sendable, Equatable {
    public var conversation: ConversationID
    public var user: String
    public var up: Bool
    public var comment: String?
    public var created: Date
}

extension Store {
    /// The feedback given on conversation `id`, oldest first. Throws `integrity` when a comment does not open.
    public func feedback(on id: ConversationID) throws -> [FeedbackRecord] {
        let rows = try mapErrors {
            try db.query(
                "SELECT id, user, up, comment, created FROM feedback WHERE conversation_id = ? ORDER BY created, id",
                [id.rawValue])
        }
        guard !rows.isEmpty else { return [] }
        let key = try dataKey(id)
        return try rows.map { row in
            let feedbackID = row[0].string ?? ""
            let user = row[1].string ?? ""
            let comment = try row[3].bytes.map {
                try open(
                    $0, key: key, aad: feedbackAAD(id, row: feedbackID, user: user), row: "feedback row \(feedbackID)")
            }
            return FeedbackRecord(
                conversation: id, user: user, up: row[2].int == 1, comment: comment,
                created: Date(timeIntervalSince1970: row[4].double ?? 0))
        }
    }
}
