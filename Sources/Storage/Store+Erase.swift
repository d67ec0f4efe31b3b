// Removing an account for good: every conversation it owns is crypto-shredded (its wrapped data key is
// deleted with its rows, as `delete` does one conversation), then the account row goes, in one
// transaction, and the WAL is checkpointed so no page image of either survives there. The audit trail
// is kept: it lives in the audit log, which never holds message text.
import Foundation

extension Store {
    /// Deletes `name` and every conversation it owns; returns how many conversations were shredded.
    /// Throws `not-found` for an unknown name, `held` while a legal hold applies.
    @discardableResult
    public func deleteUser(_ name: String) throws -> Int {
        // Ids only: a damaged title must not keep its owner's data from being erased.
        let owned = try mapErrors {
            try db.query("SELECT id FROM conversations WHERE owner = ?", [name]).compactMap { row in
                row[0].string.flatMap(ConversationID.init(rawValue:))
            }
        }
        try mapErrors {
            let removed = try db.transaction {
                // Inside the transaction, so a hold placed by another process meanwhile is seen.
                let holds = try holdsKeeping(user: name)
                guard holds.isEmpty else { throw Self.held("user \(name)", by: holds) }
                for id in owned {
                    try db.run("DELETE FROM feedback WHERE conversation_id = ?", [id.rawValue])
                    try db.run("DELETE FROM messages WHERE conversation_id = ?", [id.rawValue])
                    try db.run("DELETE FROM conversations WHERE id = ?", [id.rawValue])
                }
                return try db.run("DELETE FROM users WHERE name = ?", [name])
            }
            for id in owned {
                dataKeys.remove(id)
                nextSeq[id] = nil
            }
            guard removed == 1 else { throw StoreError(.notFound, "no user \(name)") }
            try db.checkpointTruncate()
        }
        return owned.count
    }
}

extension Store {
    /// Up to `limit` conversations with ids after `id` (all from the first when nil), with those failing
    /// an integrity check set apart (the retention sweep: a damaged conversation is reported, never judged
    /// by rules it cannot read). Paging by id keeps each call short, so appends interleave with a sweep.
    public func conversations(after id: ConversationID?, limit: Int) throws -> ConversationListing {
        try summaries(
            where: "c.id IN (SELECT id FROM conversations WHERE id > ? ORDER BY id LIMIT ?)",
            [id?.rawValue ?? "", limit])
    }
}
