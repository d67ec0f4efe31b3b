// The database schema as named, append-only migrations, and the AAD layout that binds each sealed
// field to its place. Never edit a migration once released; add a new one.
internal import EnclaveCrypto

enum Schema {
    static let migrations: [Migration] = [
        Migration(
            name: "1-initial",
            sql: """
                CREATE TABLE master_keys (
                    version     INTEGER PRIMARY KEY,                -- 1, 2, ...
                    check_value BLOB NOT NULL,                      -- HMAC of a constant; detects a wrong key
                    state       TEXT NOT NULL CHECK (state IN ('active', 'retiring', 'retired')),
                    created     REAL NOT NULL
                );
                CREATE TABLE users (
                    name            TEXT PRIMARY KEY,
                    role            TEXT NOT NULL CHECK (role IN ('staff', 'compliance', 'admin')),
                    groups_list     TEXT NOT NULL,                  -- newline-separated group names
                    password_hash   TEXT NOT NULL,                  -- scrypt$..., never a password
                    disabled        INTEGER NOT NULL DEFAULT 0,
                    failed_attempts INTEGER NOT NULL DEFAULT 0,
                    locked_until    REAL                            -- Unix time, NULL when not locked
                );
                CREATE TABLE conversations (
                    id          TEXT PRIMARY KEY,                   -- 20 hex digits
                    owner       TEXT NOT NULL,
                    title       BLOB,                               -- sealed; NULL when untitled
                    tags        BLOB NOT NULL,                      -- sealed, newline-separated, only grows
                    provider    TEXT,                               -- sticky provider name
                    wrapped_key BLOB NOT NULL,                      -- data key sealed under master key_version
                    key_version INTEGER NOT NULL REFERENCES master_keys(version),
                    created     REAL NOT NULL,
                    updated     REAL NOT NULL
                );
                CREATE INDEX conversations_by_owner ON conversations(owner, updated);
                CREATE INDEX conversations_by_key_version ON conversations(key_version);
                CREATE TABLE messages (
                    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                    seq             INTEGER NOT NULL,               -- 1, 2, ... within the conversation
                    role            TEXT NOT NULL,
                    body            BLOB NOT NULL,                  -- sealed
                    provider        TEXT,
                    model_id        TEXT,
                    prompt_version  TEXT,
                    tokens_in       INTEGER,
                    tokens_out      INTEGER,
                    created         REAL NOT NULL,
                    PRIMARY KEY (conversation_id, seq)
                );
                CREATE TABLE feedback (
                    id              TEXT PRIMARY KEY,
                    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                    user            TEXT NOT NULL,
                    up              INTEGER NOT NULL,
                    comment         BLOB,                           -- sealed
                    created         REAL NOT NULL
                );
                CREATE INDEX feedback_by_conversation ON feedback(conversation_id);
                """),
        // Binds the columns sealing did not cover (Integrity.swift): a MAC over each user row, the
        // owner in each data key's wrapping AAD, and a sealed message count per conversation. The
        // Store's upgrade step fills them for existing rows in the same transaction.
        Migration(
            name: "2-bound-rows",
            sql: """
                ALTER TABLE users ADD COLUMN mac BLOB;                  -- HMAC over every column but mac
                ALTER TABLE users ADD COLUMN mac_version INTEGER;       -- master version the MAC key is from
                ALTER TABLE conversations ADD COLUMN message_count BLOB; -- sealed decimal count of messages
                """),
        // Who chose a password (PasswordState: 0 the user, 1 someone else, 2 someone else's, used once).
        // The user-row MAC covers it only when it is not 0, so the MACs of rows written before still verify.
        Migration(
            name: "3-password-change",
            sql: """
                ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
                """),
        // Legal holds (Store+Holds.swift: the reason is free text, so it is sealed under the master key
        // version named beside it) and the backups an operator keeps (Store+Backup.swift: `keys rotate`
        // keeps every master version one of them needs).
        Migration(
            name: "4-holds-and-backups",
            sql: """
                CREATE TABLE holds (
                    id          TEXT PRIMARY KEY,                   -- 16 hex digits
                    kind        TEXT NOT NULL CHECK (kind IN ('user', 'conversation')),
                    subject     TEXT NOT NULL,                      -- a user name or a conversation id
                    reason      BLOB NOT NULL,                      -- sealed; AAD binds id, kind and subject
                    key_version INTEGER NOT NULL REFERENCES master_keys(version),
                    created_by  TEXT NOT NULL,
                    created     REAL NOT NULL
                );
                CREATE INDEX holds_by_subject ON holds(kind, subject);
                CREATE TABLE backups (
                    id              TEXT PRIMARY KEY,               -- 16 hex digits, also in the manifest
                    destination     TEXT NOT NULL,
                    master_versions TEXT NOT NULL,                  -- comma-separated versions it needs
                    created         REAL NOT NULL
                );
                """),
    ]

    /// Data keys have one generation so far; it is bound into every field's AAD so a future
    /// re-encryption can tell generations apart.
    static let dataKeyVersion = 1

    /// Additional authenticated data: a domain tag then each field length-prefixed (4 bytes, big
    /// endian), so no two different field lists encode to the same bytes.
    static func aad(_ table: String, row: String, conversation: ConversationID, role: String, keyVersion: Int)
        -> [UInt8]
    {
        var writer = AADWriter()
        writer.start(table: table)
        writer.field(row.utf8)
        writer.finish(conversation: conversation, role: role, keyVersion: keyVersion)
        return writer.bytes
    }
}

/// Builds `Schema.aad` byte strings into one reused buffer (the history read path builds one per row).
struct AADWriter {
    private static let domain = Array("enclave-aad-v1".utf8)
    /// The AAD built so far.
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(128) }

    /// Clears the buffer and writes the domain tag and the table field.
    mutating func start(table: String) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: Self.domain)
        field(table.utf8)
    }

    /// Writes the conversation, role and key-version fields that end every AAD.
    mutating func finish(conversation: ConversationID, role: String, keyVersion: Int) {
        field(conversation.rawValue.utf8)
        field(role.utf8)
        decimalField(keyVersion)
    }

    /// Writes one field: its length (4 bytes, big endian), then its bytes.
    mutating func field(_ field: some Collection<UInt8>) {
        length(field.count)
        bytes.append(contentsOf: field)
    }

    /// Starts over with a message body's AAD: `Schema.aad("messages", row: "<conversation>/<seq>", ...)`
    /// under the current data-key version, without building the row string.
    mutating func messageBody(_ conversation: ConversationID, seq: Int, role: String) {
        start(table: "messages")
        messageRowField(conversation, seq: seq)
        finish(conversation: conversation, role: role, keyVersion: Schema.dataKeyVersion)
    }

    /// Writes the row field of a message, `<conversation>/<seq>`, without building the string.
    mutating func messageRowField(_ conversation: ConversationID, seq: Int) {
        let id = conversation.rawValue.utf8
        guard seq >= 0 else { return field("\(conversation.rawValue)/\(seq)".utf8) }
        length(id.count + 1 + Self.decimalCount(seq))
        bytes.append(contentsOf: id)
        bytes.append(UInt8(ascii: "/"))
        appendDecimal(seq)
    }

    /// Writes a non-negative integer field as its decimal digits (`"\(n)"`).
    private mutating func decimalField(_ n: Int) {
        guard n >= 0 else { return field("\(n)".utf8) }
        length(Self.decimalCount(n))
        appendDecimal(n)
    }

    private mutating func length(_ count: Int) {
        // One append of the four bytes, not four appends each checking capacity (cold reads build one per field).
        withUnsafeBytes(of: UInt32(count).bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func decimalCount(_ n: Int) -> Int {
        var count = 1
        var rest = n / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }

    private mutating func appendDecimal(_ n: Int) {
        let start = bytes.count
        var rest = n
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }
}
