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
                """)
    ]

    /// Data keys have one generation so far; it is bound into every field's AAD so a future
    /// re-encryption can tell generations apart.
    static let dataKeyVersion = 1

    /// Additional authenticated data: a domain tag then each field length-prefixed (4 bytes, big
    /// endian), so no two different field lists encode to the same bytes.
    static func aad(_ table: String, row: String, conversation: ConversationID, role: String, keyVersion: Int)
        -> [UInt8]
    {
        var out = Array("enclave-aad-v1".utf8)
        for field in [table, row, conversation.rawValue, role, "\(keyVersion)"] {
            let bytes = Array(field.utf8)
            let n = UInt32(bytes.count)
            out += [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
            out += bytes
        }
        return out
    }
}
