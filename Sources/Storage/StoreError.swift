// Storage's one error type: a stable kebab-case code plus a message that names rows, files or
// settings but never message text or key bytes. SQLite failures are mapped to codes in one place.
internal import CSQLite

/// A storage failure with a stable code callers (and the wire protocol) can rely on.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable error codes; new ones may be added without breaking callers.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A sealed field or wrapped key failed authentication; the message names the row.
        public static let integrity = Code(rawValue: "integrity")
        /// The master key does not match the database's key check value.
        public static let wrongMasterKey = Code(rawValue: "wrong-master-key")
        /// A master key version the database needs is not in the key ring.
        public static let missingMasterKey = Code(rawValue: "missing-master-key")
        /// The key file, variable or command is unusable (permissions, owner, format, exit status).
        public static let keySource = Code(rawValue: "key-source")
        /// The file is not a SQLite database, or is damaged.
        public static let corruptDatabase = Code(rawValue: "corrupt-database")
        /// The database or its directory cannot be written.
        public static let readOnly = Code(rawValue: "read-only")
        /// The disk (or file system) is full.
        public static let diskFull = Code(rawValue: "disk-full")
        /// Another process held the database lock for longer than the busy timeout.
        public static let busy = Code(rawValue: "busy")
        /// A required setting (WAL, synchronous=FULL, ...) could not be put in force, or the schema is too new.
        public static let unsupportedDatabase = Code(rawValue: "unsupported-database")
        /// No such conversation or user.
        public static let notFound = Code(rawValue: "not-found")
        /// The row already exists (e.g. a user name).
        public static let alreadyExists = Code(rawValue: "already-exists")
        /// A caller passed something unusable.
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        /// A legal hold forbids deleting this user or conversation.
        public static let held = Code(rawValue: "held")
        /// The database was written by a newer release (more migrations than this binary knows).
        public static let databaseTooNew = Code(rawValue: "database-too-new")
        /// Any other SQLite or I/O failure.
        public static let io = Code(rawValue: "io-error")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// The storage error for a SQLite failure.
    init(_ error: SQLiteError) {
        switch error.primaryCode {
        case SQLITE_FULL: self.init(.diskFull, "disk full: \(error.message)")
        case SQLITE_CORRUPT, SQLITE_NOTADB: self.init(.corruptDatabase, "not a usable database: \(error.message)")
        case SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH:
            self.init(.readOnly, "cannot write the database: \(error.message)")
        case SQLITE_BUSY, SQLITE_LOCKED: self.init(.busy, "database busy: \(error.message)")
        case SQLITE_CONSTRAINT where error.code == SQLITE_CONSTRAINT | (3 << 8):
            // SQLITE_CONSTRAINT_FOREIGNKEY: the conversation was deleted while the row was on its way.
            self.init(.notFound, "the referenced row no longer exists: \(error.message)")
        case SQLITE_CONSTRAINT: self.init(.alreadyExists, "constraint: \(error.message)")
        case SQLITE_MISUSE: self.init(.unsupportedDatabase, error.message)
        case SQLITE_IOERR:
            // A full disk often surfaces as an I/O error at write or fsync time.
            // Extended codes SQLITE_IOERR_WRITE (3), _FSYNC (4), _TRUNCATE (6), _SHMSIZE (19): C macros
            // Swift cannot import, so spelled out here.
            if [3, 4, 6, 19].contains(error.code >> 8) {
                self.init(.diskFull, "write failed (disk full?): \(error.message)")
            } else {
                self.init(.io, "I/O error: \(error.message)")
            }
        default: self.init(.io, error.description)
        }
    }
}

/// Runs `body`, turning any SQLite error into a `StoreError`.
@discardableResult
func mapErrors<R>(_ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as SQLiteError {
        throw StoreError(error)
    }
}
