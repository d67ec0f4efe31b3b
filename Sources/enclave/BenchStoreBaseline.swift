// The baseline `enclave bench store` measures the Store against: the same messages kept in a plain SQLite
// table, as a chat server that encrypts nothing would keep them. It must be no cheaper a database than the
// Store's, so that the ratio prices sealing and integrity alone:
//   - one connection opened by Storage's `SQLiteConnection`, so the same WAL journal, synchronous=FULL,
//     secure_delete, in-memory temp store, foreign keys and default page cache the Store runs with;
//   - the Store's own `messages` table, read from a database the Store made (columns, primary key,
//     foreign key and indexes as they are, whatever later migrations add), holding the body as text, and
//     the Store's `conversations` table less the columns only keys and integrity need (wrapped key, key
//     version, sealed count), with its index on (owner, updated);
//   - appends grouped as the Store groups them (the leader yields once when other appends are in flight,
//     then writes every waiting row and each conversation's `updated` in one transaction), in an actor on
//     a serial queue of its own like the Store's (QueueExecutor);
//   - history reads of the same query, stepped in place through the same cursor, each row decoded into a
//     record of the same fields.
// What it leaves out is what the ratio measures: data keys, AADs, sealing and opening, the sealed message
// count and its checks, the memo of opened bodies.
import EnclaveCrypto
import Foundation
import Storage
import Synchronization

/// What the benchmark does to a store: the sealed Store and its plaintext baseline both.
protocol BenchedStore: Actor {
    func createConversation(owner: String, title: String?, tags: Set<String>) throws -> ConversationID
    func append(_ message: NewMessage, to id: ConversationID) async throws -> Int
    /// Reads the newest `limit` messages of `id` as the server reads a history; returns how many it read.
    func readHistory(_ id: ConversationID, limit: Int) throws -> Int
    /// Drops what the store remembers of the bodies it opened, so the next reads are cold.
    func forgetOpenedBodies()
    func checkpoint() throws
}

extension Store: BenchedStore {
    func readHistory(_ id: ConversationID, limit: Int) throws -> Int { try history(id, limit: limit).count }
}

/// The plaintext baseline.
actor PlainStore: BenchedStore {
    /// A message as the baseline hands it out: `MessageRecord`'s fields but the conversation, none opened.
    struct Message {
        let seq: Int
        let role, body: String
        let provider, modelID, promptVersion: String?
        let tokensIn, tokensOut: Int?
        let created: Date
    }

    /// A message waiting for its group's commit.
    private struct Pending {
        let conversation: ConversationID
        let seq: Int
        let message: NewMessage
        let created: Double
    }

    private nonisolated let executor = QueueExecutor(label: "enclave.bench.plain")
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let db: SQLiteConnection
    private var nextSeq: [ConversationID: Int] = [:]
    /// Appends waiting for the group commit in progress, with what resumes them.
    private var followers: [(row: Pending, resume: CheckedContinuation<Void, any Error>)] = []
    private var committing = false
    /// Appends called and not yet returned, counted before they wait for the actor (as the Store counts).
    private nonisolated let appendsInFlight = Atomic<Int>(0)

    /// A new baseline database at `path`, with the `messages` table of the Store database at `storePath`.
    init(path: String, messagesLike storePath: String) throws {
        // Table first, then its indexes (the primary key's automatic index has no SQL). The body column is
        // declared BLOB there, which stores the text bound to it as text.
        let messages = try SQLiteConnection(path: storePath, create: false).query(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'messages' AND sql IS NOT NULL ORDER BY type DESC")
        db = try SQLiteConnection(path: path)
        try db.execute(
            """
            CREATE TABLE conversations (
                id       TEXT PRIMARY KEY,
                owner    TEXT NOT NULL,
                title    TEXT,
                tags     TEXT NOT NULL,
                provider TEXT,
                created  REAL NOT NULL,
                updated  REAL NOT NULL
            );
            CREATE INDEX conversations_by_owner ON conversations(owner, updated);
            """)
        guard !messages.isEmpty else { throw CLIError("\(storePath) has no messages table") }
        for definition in messages { try db.execute(definition[0].string ?? "") }
    }

    func createConversation(owner: String, title: String?, tags: Set<String>) throws -> ConversationID {
        // A random id like the Store's, so rows land in the indexes in the same scattered order.
        guard let id = ConversationID(rawValue: try SecureRandom.bytes(10).hexString) else {
            throw CLIError("a random conversation id is not 20 hex digits")
        }
        let now = Date().timeIntervalSince1970
        try db.run(
            "INSERT INTO conversations (id, owner, title, tags, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
            [id.rawValue, owner, title, tags.sorted().joined(separator: "\n"), now, now])
        nextSeq[id] = 1
        return id
    }

    nonisolated func append(_ message: NewMessage, to id: ConversationID) async throws -> Int {
        appendsInFlight.add(1, ordering: .relaxed)
        defer { appendsInFlight.subtract(1, ordering: .relaxed) }
        return try await appendCounted(message, to: id)
    }

    /// Joins the group being committed, or leads the next one.
    private func appendCounted(_ message: NewMessage, to id: ConversationID) async throws -> Int {
        guard let seq = nextSeq[id] else { throw CLIError("no conversation \(id)") }
        nextSeq[id] = seq + 1
        let row = Pending(conversation: id, seq: seq, message: message, created: Date().timeIntervalSince1970)
        if committing {
            try await withCheckedThrowingContinuation { followers.append((row, $0)) }
            return seq
        }
        committing = true
        if appendsInFlight.load(ordering: .relaxed) > 1 { await Task.yield() }
        let joined = followers
        followers = []
        let written = Result { try write([row] + joined.map(\.row)) }
        committing = false
        for follower in joined { follower.resume.resume(with: written) }
        try written.get()
        return seq
    }

    /// One transaction: every row, then each conversation's `updated`.
    private func write(_ rows: [Pending]) throws {
        try db.transaction {
            var updated: [ConversationID: Double] = [:]
            for row in rows {
                let m = row.message
                try db.run(
                    """
                    INSERT INTO messages (conversation_id, seq, role, body, provider, model_id, prompt_version,
                                          tokens_in, tokens_out, created)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        row.conversation.rawValue, row.seq, m.role, m.body, m.provider, m.modelID, m.promptVersion,
                        m.tokensIn, m.tokensOut, row.created,
                    ])
                updated[row.conversation] = row.created
            }
            for (id, time) in updated {
                try db.run("UPDATE conversations SET updated = ? WHERE id = ?", [time, id.rawValue])
            }
        }
    }

    /// The newest `limit` messages of `id`, oldest first.
    func history(_ id: ConversationID, limit: Int) throws -> [Message] {
        var messages: [Message] = []
        messages.reserveCapacity(limit)
        try db.forEachRow(
            """
            SELECT seq, role, body, provider, model_id, prompt_version, tokens_in, tokens_out, created
            FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?
            """, [id.rawValue, limit]
        ) { row in
            messages.append(
                Message(
                    seq: row.int(0) ?? 0, role: row.string(1) ?? "", body: row.string(2) ?? "",
                    provider: row.string(3), modelID: row.string(4), promptVersion: row.string(5),
                    tokensIn: row.int(6), tokensOut: row.int(7),
                    created: Date(timeIntervalSince1970: row.double(8) ?? 0)))
        }
        messages.reverse()
        return messages
    }

    func readHistory(_ id: ConversationID, limit: Int) throws -> Int { try history(id, limit: limit).count }

    /// Nothing to forget: the baseline opens nothing.
    func forgetOpenedBodies() {}

    func checkpoint() throws { try db.checkpointTruncate() }
}
