// User accounts: creation, lookup, updates, and the failed-login counter with lockout.
// Password hashing (scrypt, ~100 ms) happens outside the actor: callers pass a finished hash.
internal import EnclaveCrypto
import Foundation

extension UserRecord {
    /// A new account with `password` hashed by scrypt. Call it off the Store actor; it is slow on purpose.
    public static func make(name: String, role: Role, groups: [String] = [], password: String) throws -> UserRecord {
        UserRecord(name: name, role: role, groups: groups, passwordHash: try PasswordHash.make(password))
    }
}

extension Store {
    /// Adds a user. Throws `already-exists` if the name is taken.
    public func createUser(_ user: UserRecord) throws {
        try Self.validate(user)
        do {
            try writeUser(user, insert: true)
        } catch let error as StoreError where error.code == .alreadyExists {
            throw StoreError(.alreadyExists, "user \(user.name) already exists")
        }
    }

    /// The user called `name`, or nil. Throws `integrity` when the row's MAC does not verify.
    public func user(named name: String) throws -> UserRecord? {
        let row = try mapErrors { try db.query("SELECT \(Self.userColumns) FROM users WHERE name = ?", [name]).first }
        return try row.map(verifiedUser)
    }

    /// Every user, by name. Throws `integrity` for the first row whose MAC does not verify.
    public func listUsers() throws -> [UserRecord] {
        try mapErrors { try db.query("SELECT \(Self.userColumns) FROM users ORDER BY name") }.map(verifiedUser)
    }

    /// Every user whose row verifies, by name, and the names of the rows that do not.
    public func userListing() throws -> (verified: [UserRecord], damaged: [String]) {
        var listing: (verified: [UserRecord], damaged: [String]) = ([], [])
        for row in try mapErrors({ try db.query("SELECT \(Self.userColumns) FROM users ORDER BY name") }) {
            do {
                listing.verified.append(try verifiedUser(row))
            } catch let error as StoreError where error.code == .integrity {
                listing.damaged.append(row[0].string ?? "")
            }
        }
        return listing
    }

    /// Replaces the stored record of `user.name` (and its MAC). Throws `not-found` if there is none.
    public func updateUser(_ user: UserRecord) throws {
        try Self.validate(user)
        guard try writeUser(user, insert: false) == 1 else { throw StoreError(.notFound, "no user \(user.name)") }
    }

    /// A number that changes whenever another connection (another process: `enclave users ...`) has
    /// committed to the database since the last call; this connection's own writes leave it alone.
    public func changeCounter() throws -> Int {
        try mapErrors { try db.query("PRAGMA data_version").first?[0].int ?? 0 }
    }

    /// The columns of a user row as `user(_:)` reads them: those of schema 2 (the MAC and its master
    /// version last), then schema 3's flag.
    static let userColumns = schema2UserColumns + ", must_change_password"
    /// The user columns schema 2's upgrade step can read (the later columns do not exist yet then).
    static let schema2UserColumns =
        "name, role, groups_list, password_hash, disabled, failed_attempts, locked_until, mac, mac_version"

    private func verifiedUser(_ row: SQLiteRow) throws -> UserRecord {
        let user = Self.user(row)
        guard Role(rawValue: row[1].string ?? "") != nil else {
            throw StoreError(.integrity, "users row \(user.name) has an unknown role")
        }
        try verifyUser(user, mac: row[7].bytes, version: row[8].int)
        return user
    }

    static func user(_ row: SQLiteRow) -> UserRecord {
        UserRecord(
            name: row[0].string ?? "", role: Role(rawValue: row[1].string ?? "") ?? .staff,
            groups: (row[2].string ?? "").split(separator: "\n").map(String.init),
            passwordHash: row[3].string ?? "", disabled: row[4].int == 1, failedAttempts: row[5].int ?? 0,
            lockedUntil: row[6].double.map { Date(timeIntervalSince1970: $0) },
            passwordState: row.values.count > 9 ? PasswordState(rawValue: row[9].int ?? 0) ?? .oneTimeUsed : .own)
    }

    private static func validate(_ user: UserRecord) throws {
        guard !user.name.isEmpty, user.name.utf8.count <= 64, !user.name.contains(where: { $0.isWhitespace }) else {
            throw StoreError(.invalidArgument, "a user name must be 1-64 characters without spaces")
        }
        for group in user.groups where group.isEmpty || group.contains(where: { $0.isNewline }) {
            throw StoreError(.invalidArgument, "a group name must be non-empty and on one line")
        }
    }
}
