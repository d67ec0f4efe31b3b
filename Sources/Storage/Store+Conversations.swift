// Conversations and messages: create, append (group commit), list, history, tags, provider,
// feedback, and delete by crypto-shredding.
internal import EnclaveCrypto
internal import Foundation
import Synchronization

/// One sealed message waiting for its group commit.
struct PendingAppend {
    let conversation: ConversationID
    let seq: Int
    let message: NewMessage
    let sealedBody: [UInt8]
    /// The conversation's message count with this message, sealed (Store+Integrity.swift).
    let sealedCount: [UInt8]
    let created: Double
    /// Resumed after the commit; nil for the append that leads the group.
    let continuation: CheckedContinuation<Void, any Error>?
}

extension Store {
    static let messageRoles: Set<String> = ["user", "assistant", "system"]

    /// Creates a conversation with a fresh random data key wrapped under the active master version.
    public func createConversation(owner: String, title: String? = nil, tags: Set<String> = []) throws
        -> ConversationID
    {
        try Self.validate(tags: tags)
        guard !owner.isEmpty else { throw StoreError(.invalidArgument, "a conversation needs an owner") }
        let id = ConversationID(unchecked: try SecureRandom.bytes(10).hexString)
        let fresh = try SymmetricKey.random()
        let now = Date().timeIntervalSince1970
        let key = try mapErrors {
            try db.transaction { () -> DataKey in
                let version = try activeMasterVersion()
                let wrapping = try wrappingKey(version: version, for: "a new conversation")
                let wrapped = try KeyWrap.wrap(
                    fresh, under: wrapping, aad: Self.wrapAAD(id, owner: owner, version: version))
                let key = DataKey(key: fresh, owner: owner, wrapped: wrapped, version: version)
                let sealedTitle = try title.map { try seal($0, key: key, aad: titleAAD(id)) }
                let sealedTags = try seal(Self.encode(tags), key: key, aad: tagsAAD(id))
                try db.run(
                    """
                    INSERT INTO conversations (id, owner, title, tags, provider, wrapped_key, key_version, created,
                                               updated, message_count)
                    VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)
                    """,
                    [
                        id.rawValue, owner, sealedTitle, sealedTags, wrapped, version, now, now,
                        try sealCount(0, key: key, id: id),
                    ])
                return key
            }
        }
        dataKeys.insert(key, for: id)
        nextSeq[id] = 1
        return id
    }

    /// Appends a message and returns its `seq` once the transaction holding it has committed.
    /// Appends that arrive while a group is forming share its single commit.
    public nonisolated func append(_ message: NewMessage, to id: ConversationID) async throws -> Int {
        // Counted before waiting for the actor, so that a commit can see whether anyone could join it.
        appendsInFlight.add(1, ordering: .relaxed)
        defer { appendsInFlight.subtract(1, ordering: .relaxed) }
        return try await appendCounted(message, to: id)
    }

    private func appendCounted(_ message: NewMessage, to id: ConversationID) async throws -> Int {
        guard Self.messageRoles.contains(message.role) else {
            throw StoreError(.invalidArgument, "message role must be user, assistant or system")
        }
        // The next seq follows the sealed count, so a message removed from the end is not papered over.
        let known = nextSeq[id]
        let (key, stored) = try keyRow(id, openingCount: known == nil)
        let seq = known ?? (stored + 1)
        nextSeq[id] = seq + 1
        let body: [UInt8]
        let count: [UInt8]
        do {
            body = try seal(message.body, key: key, aad: bodyAAD(id, seq: seq, role: message.role))
            count = try sealCount(seq, key: key, id: id)
        } catch {
            nextSeq[id] = nil
            throw error
        }
        let row = PendingAppend(
            conversation: id, seq: seq, message: message, sealedBody: body, sealedCount: count,
            created: Date().timeIntervalSince1970, continuation: nil)
        try await commitInGroup(row)
        // The newest count this Store sealed is the stored one once its group committed: remembering it
        // lets the next read of the conversation compare bytes instead of opening the count.
        if seq > key.count?.count ?? -1 { key.count = (count, seq) }
        dataKeys.remember(
            OpenedBody.make(seq: seq, role: message.role, sealed: body, plain: message.body.utf8), in: key)
        return seq
    }

    /// Joins the group being formed, or leads a new one: when other appends are on their way, yield once
    /// so they can join; then write every row in one transaction and resume the followers after the commit.
    /// An append with nobody else in flight commits at once.
    private func commitInGroup(_ row: PendingAppend) async throws {
        if committing {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                pending.append(
                    PendingAppend(
                        conversation: row.conversation, seq: row.seq, message: row.message,
                        sealedBody: row.sealedBody, sealedCount: row.sealedCount, created: row.created,
                        continuation: continuation))
            }
            return
        }
        committing = true
        if appendsInFlight.load(ordering: .relaxed) > 1 { await Task.yield() }
        let group = [row] + pending
        pending = []
        do {
            try mapErrors {
                try db.transaction {
                    var last: [ConversationID: PendingAppend] = [:]
                    for item in group {
                        try insert(item)
                        if item.seq > last[item.conversation]?.seq ?? 0 { last[item.conversation] = item }
                    }
                    for (id, item) in last {
                        try db.run(
                            "UPDATE conversations SET updated = ?, message_count = ? WHERE id = ?",
                            [Date().timeIntervalSince1970, item.sealedCount, id.rawValue])
                    }
                }
            }
            appendCommits += 1
        } catch {
            // The seq counters may now be ahead of the database; reload them on next use.
            for item in group { nextSeq[item.conversation] = nil }
            committing = false
            for item in group { item.continuation?.resume(throwing: error) }
            throw error
        }
        committing = false
        for item in group { item.continuation?.resume() }
    }

    private func insert(_ item: PendingAppend) throws {
        let m = item.message
        try db.run(
            """
            INSERT INTO messages (conversation_id, seq, role, body, provider, model_id, prompt_version,
                                  tokens_in, tokens_out, created)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                item.conversation.rawValue, item.seq, m.role, item.sealedBody, m.provider, m.modelID,
                m.promptVersion, m.tokensIn, m.tokensOut, item.created,
            ])
    }

    /// The last `limit` messages (all when nil) of a conversation, oldest first, opened.
    /// A body whose stored row is byte-for-byte one this Store already authenticated comes from the
    /// memo (OpenedBodies.swift); every other body is authenticated and decrypted now.
    /// The rows must be exactly seqs 1 through the sealed count (the last `limit` of them), so a removed,
    /// moved or renumbered message is an `integrity` error like a row that fails to open; the error
    /// names the first such row.
    public func history(_ id: ConversationID, limit: Int? = nil) throws -> [MessageRecord] {
        let (key, count) = try keyRow(id)
        let expectedRows = min(count, max(0, limit ?? count))
        var records: [MessageRecord] = []
        records.reserveCapacity(expectedRows)
        // Row i (newest first) is seq count - i; its remembered entry, if any, is remembered[i]. The
        // references are unretained, so the memo must not change until the rows are read: bodies opened
        // now are remembered after the loop.
        let remembered = key.rememberedEntries(newest: count, count: expectedRows)
        defer { rememberOpened(in: key) }
        var aad = AADWriter()
        try mapErrors {
            try db.forEachRow(
                """
                SELECT seq, role, body, provider, model_id, prompt_version, tokens_in, tokens_out, created
                FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?
                """, [id.rawValue, limit ?? -1]
            ) { row in
                let seq = row.int(0) ?? 0
                guard seq == count - records.count else {
                    throw Self.gap(id, expected: count - records.count, found: seq)
                }
                let role = row.string(1) ?? ""
                let body = try row.withBytes(2) { sealed in
                    if records.count < remembered.count, let entry = remembered[records.count],
                        let text = entry._withUnsafeGuaranteedRef({ $0.text(role: role, stored: sealed) })
                    {
                        return text
                    }
                    aad.messageBody(id, seq: seq, role: role)
                    bodiesDecrypted += 1
                    let body = try openBody(sealed, key: key, aad: aad.bytes, seq: seq, role: role, id: id)
                    openedInRead.append(body)
                    return body.text
                }
                records.append(
                    MessageRecord(
                        conversation: id, seq: seq, created: Date(timeIntervalSince1970: row.double(8) ?? 0),
                        message: NewMessage(
                            role: role, body: body, provider: row.string(3), modelID: row.string(4),
                            promptVersion: row.string(5), tokensIn: row.int(6), tokensOut: row.int(7))))
            }
        }
        guard records.count == expectedRows else {
            throw Self.gap(id, expected: count - records.count, found: records.last?.seq ?? 0)
        }
        records.reverse()
        return records
    }

    /// Remembers the bodies the history read just finished opened (`openedInRead`) under `key`.
    private func rememberOpened(in key: DataKey) {
        for body in openedInRead { dataKeys.remember(body, in: key) }
        openedInRead.removeAll(keepingCapacity: true)
    }

    /// One conversation's summary, or nil if it does not exist. Throws `integrity` when it is damaged.
    public func conversation(_ id: ConversationID) throws -> ConversationSummary? {
        let listing = try summaries(where: "c.id = ?", [id.rawValue])
        if let damaged = listing.damaged.first { throw damaged.error }
        return listing.summaries.first
    }

    /// An owner's conversations, most recently updated first. Throws `integrity` when any is damaged;
    /// `listConversations(owner:)` returns the sound ones and names the others.
    public func conversations(owner: String) throws -> [ConversationSummary] {
        let listing = try listConversations(owner: owner)
        if let damaged = listing.damaged.first { throw damaged.error }
        return listing.summaries
    }

    /// An owner's conversations, most recently updated first, with those that fail an integrity check
    /// set apart (by id, with the error naming the row) instead of failing the whole list.
    public func listConversations(owner: String) throws -> ConversationListing {
        try summaries(where: "c.owner = ?", [owner])
    }

    /// The highest `seq` (one index probe) is compared with the sealed count: a message removed from the
    /// end shows here; one removed from the middle shows when the history is read.
    func summaries(where condition: String, _ values: [any SQLiteBindable]) throws -> ConversationListing {
        let rows = try mapErrors {
            try db.query(
                """
                SELECT c.id, c.owner, c.title, c.tags, c.provider, c.created, c.updated, c.wrapped_key, c.key_version,
                       (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.conversation_id = c.id), c.message_count
                FROM conversations c WHERE \(condition) ORDER BY c.updated DESC, c.id
                """, values)
        }
        var listing = ConversationListing()
        for row in rows {
            let id = ConversationID(unchecked: row[0].string ?? "")
            do {
                listing.summaries.append(try summary(id, row))
            } catch let error as StoreError where error.code == .integrity {
                listing.damaged.append(DamagedConversation(id: id, owner: row[1].string ?? "", error: error))
            }
        }
        return listing
    }

    private func summary(_ id: ConversationID, _ row: SQLiteRow) throws -> ConversationSummary {
        let owner = row[1].string ?? ""
        let key = try (row[7].bytes ?? []).withUnsafeBytes {
            try dataKey(id, owner: owner, wrapped: $0, version: row[8].int ?? 0)
        }
        let title = try row[2].bytes.map {
            try open($0, key: key, aad: titleAAD(id), row: "conversations row \(id) title")
        }
        let tags = try open(row[3].bytes ?? [], key: key, aad: tagsAAD(id), row: "conversations row \(id) tags")
        let count = try openCount(row[10].bytes, key: key, id: id)
        let highest = row[9].int ?? 0
        guard highest == count else { throw Self.gap(id, expected: count, found: highest) }
        return ConversationSummary(
            id: id, owner: owner, title: title, tags: Self.decode(tags), provider: row[4].string,
            created: Date(timeIntervalSince1970: row[5].double ?? 0),
            updated: Date(timeIntervalSince1970: row[6].double ?? 0), messageCount: count)
    }

    /// Adds tags to a conversation (tags only grow) and returns all of its tags.
    @discardableResult
    public func addTags(_ tags: Set<String>, to id: ConversationID) throws -> Set<String> {
        try Self.validate(tags: tags)
        return try rewriteTags(id) { $0.union(tags) }
    }

    /// Removes one tag: a compliance action, which the caller must audit. Returns the remaining tags.
    @discardableResult
    public func removeTag(_ tag: String, from id: ConversationID) throws -> Set<String> {
        try rewriteTags(id) { $0.subtracting([tag]) }
    }

    private func rewriteTags(_ id: ConversationID, _ change: (Set<String>) -> Set<String>) throws -> Set<String> {
        let key = try dataKey(id)
        return try mapErrors {
            try db.transaction {
                let sealed = try db.query("SELECT tags FROM conversations WHERE id = ?", [id.rawValue]).first?[0].bytes
                let current = Self.decode(
                    try open(
                        sealed ?? [], key: key, aad: tagsAAD(id),
                        row: "conversations row \(id) tags"))
                let updated = change(current)
                if updated != current {
                    try db.run(
                        "UPDATE conversations SET tags = ?, updated = ? WHERE id = ?",
                        [
                            try seal(Self.encode(updated), key: key, aad: tagsAAD(id)), Date().timeIntervalSince1970,
                            id.rawValue,
                        ])
                }
                return updated
            }
        }
    }

    /// Records the conversation's sticky provider.
    public func setProvider(_ name: String, for id: ConversationID) throws {
        let changed = try mapErrors {
            try db.run("UPDATE conversations SET provider = ? WHERE id = ?", [name, id.rawValue])
        }
        guard changed == 1 else { throw StoreError(.notFound, "no conversation \(id)") }
    }

    /// Stores a thumbs up/down with an optional comment (sealed).
    public func addFeedback(conversation id: ConversationID, user: String, up: Bool, comment: String?) throws {
        let key = try dataKey(id)
        let feedbackID = try SecureRandom.bytes(10).hexString
        let sealed = try comment.map { try seal($0, key: key, aad: feedbackAAD(id, row: feedbackID, user: user)) }
        try mapErrors {
            try db.run(
                "INSERT INTO feedback (id, conversation_id, user, up, comment, created) VALUES (?, ?, ?, ?, ?, ?)",
                [feedbackID, id.rawValue, user, up, sealed, Date().timeIntervalSince1970])
        }
    }

    /// Deletes a conversation by crypto-shredding: the row holding its only (wrapped) data key goes
    /// together with its messages and feedback (secure_delete overwrites the freed pages), then the
    /// WAL is checkpointed and truncated so no old page image survives there.
    public func delete(_ id: ConversationID) throws {
        try mapErrors {
            let removed = try db.transaction {
                // Inside the transaction, so a hold placed by another process meanwhile is seen.
                if let owner = try db.query("SELECT owner FROM conversations WHERE id = ?", [id.rawValue]).first?[0]
                    .string
                {
                    let holds = try holdsKeeping(id, owner: owner)
                    guard holds.isEmpty else { throw Self.held("conversation \(id)", by: holds) }
                }
                try db.run("DELETE FROM feedback WHERE conversation_id = ?", [id.rawValue])
                try db.run("DELETE FROM messages WHERE conversation_id = ?", [id.rawValue])
                return try db.run("DELETE FROM conversations WHERE id = ?", [id.rawValue])
            }
            dataKeys.remove(id)
            guard removed == 1 else { throw StoreError(.notFound, "no conversation \(id)") }
            try db.checkpointTruncate()
        }
        nextSeq[id] = nil
    }

    // MARK: Field encodings and AAD

    func titleAAD(_ id: ConversationID) -> [UInt8] {
        Schema.aad(
            "conversations", row: id.rawValue, conversation: id, role: "title", keyVersion: Schema.dataKeyVersion)
    }

    func tagsAAD(_ id: ConversationID) -> [UInt8] {
        Schema.aad("conversations", row: id.rawValue, conversation: id, role: "tags", keyVersion: Schema.dataKeyVersion)
    }

    func feedbackAAD(_ id: ConversationID, row: String, user: String) -> [UInt8] {
        Schema.aad("feedback", row: row, conversation: id, role: user, keyVersion: Schema.dataKeyVersion)
    }

    func bodyAAD(_ id: ConversationID, seq: Int, role: String) -> [UInt8] {
        var writer = AADWriter()
        writer.messageBody(id, seq: seq, role: role)
        return writer.bytes
    }

    static func validate(tags: Set<String>) throws {
        for tag in tags where tag.isEmpty || tag.utf8.count > 64 || tag.contains(where: { $0.isWhitespace }) {
            throw StoreError(.invalidArgument, "a tag must be 1-64 characters without spaces")
        }
    }

    static func encode(_ tags: Set<String>) -> String { tags.sorted().joined(separator: "\n") }

    static func decode(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").map(String.init))
    }
}
