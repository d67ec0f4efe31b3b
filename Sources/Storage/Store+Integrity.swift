// Binding the columns that sealing alone left open (issue 17). Sealed fields were already bound to
// their table, row, conversation, role and key version; what an attacker with write access to the file
// (and no key) could still change undetected was who owns a conversation, how many messages it has,
// and every column of a user row. Here:
//   - a conversation's owner is part of the AAD its data key is wrapped under, so a changed owner makes
//     the key, and with it every sealed field of the conversation, refuse to open;
//   - each conversation carries its message count sealed under its data key, so a removed, moved or
//     renumbered message shows as a gap or a surplus against the count;
//   - each user row carries an HMAC (key derived from the master key, separate from the wrapping key)
//     over name, role, groups, password hash, disabled flag, failure count, lock and the flag that
//     forces a password change, written only by
//     `writeUser`, so a raised role, a copied hash, a cleared flag or lock is refused.
// What remains undetectable without outside state: replaying an older, once-valid row or count as a
// whole (a rollback), and deleting a whole conversation or user row.
internal import EnclaveCrypto
internal import Foundation

extension Store {
    // MARK: Owner-bound data keys

    /// The AAD a data key is wrapped under: conversation, owner and master version.
    static func wrapAAD(_ id: ConversationID, owner: String, version: Int) -> [UInt8] {
        var writer = AADWriter()
        writer.start(table: "conversations")
        writer.field(id.rawValue.utf8)
        writer.field(owner.utf8)
        writer.finish(conversation: id, role: "data-key+owner", keyVersion: version)
        return writer.bytes
    }

    /// The AAD of schema 1, before the owner was bound (used once, by the upgrade to schema 2).
    static func unboundWrapAAD(_ id: ConversationID, version: Int) -> [UInt8] {
        Schema.aad("conversations", row: id.rawValue, conversation: id, role: "data-key", keyVersion: version)
    }

    // MARK: Sealed message counts

    func countAAD(_ id: ConversationID) -> [UInt8] {
        Schema.aad(
            "conversations", row: id.rawValue, conversation: id, role: "message-count",
            keyVersion: Schema.dataKeyVersion)
    }

    /// Seals the message count of `id`.
    func sealCount(_ count: Int, key: DataKey, id: ConversationID) throws -> [UInt8] {
        try seal(String(count), key: key, aad: countAAD(id))
    }

    /// Opens the sealed message count of `id`; the last one opened is remembered on its key, so a warm
    /// history read pays one byte comparison instead of a decryption. A missing or unreadable count is
    /// an `integrity` error.
    func openCount(_ sealed: UnsafeRawBufferPointer?, key: DataKey, id: ConversationID) throws -> Int {
        guard let sealed else {
            throw StoreError(.integrity, "conversations row \(id): the sealed message count is missing")
        }
        if let memo = key.count, memo.sealed.withUnsafeBytes({ sameBytes($0, sealed) }) { return memo.count }
        let text = try open(sealed, key: key, aad: countAAD(id), row: "conversations row \(id) message count")
        guard let count = Int(text), count >= 0 else {
            throw StoreError(.integrity, "conversations row \(id): the message count is not a number")
        }
        key.count = (Array(sealed), count)
        return count
    }

    /// `openCount(_:key:id:)` for a count held in an array.
    func openCount(_ sealed: [UInt8]?, key: DataKey, id: ConversationID) throws -> Int {
        guard let sealed else { return try openCount(UnsafeRawBufferPointer?.none, key: key, id: id) }
        return try sealed.withUnsafeBytes { try openCount($0, key: key, id: id) }
    }

    /// The error for rows of `id` that do not match its sealed count.
    static func gap(_ id: ConversationID, expected: Int, found: Int) -> StoreError {
        StoreError(
            .integrity,
            "messages of conversation \(id): expected seq \(expected), found \(found) "
                + "(a message was removed, moved or renumbered)")
    }

    // MARK: User-row MACs

    /// The bytes a user row's MAC covers: every column but the MAC itself, length-prefixed.
    static func macInput(_ user: UserRecord, version: Int) -> [UInt8] {
        var writer = AADWriter()
        writer.start(table: "users")
        writer.field(user.name.utf8)
        writer.field(user.role.rawValue.utf8)
        writer.field(user.groups.joined(separator: "\n").utf8)
        writer.field(user.passwordHash.utf8)
        writer.field((user.disabled ? "1" : "0").utf8)
        writer.field(String(user.failedAttempts).utf8)
        // The exact bits SQLite stores, so no decimal rounding can make a valid row look tampered.
        writer.field((user.lockedUntil.map { String($0.timeIntervalSince1970.bitPattern) } ?? "-").utf8)
        writer.field(String(version).utf8)
        // Schema 3's password state, as a field of its own after the version unless it is `own`: a row
        // written before it has the same input as then, and any change of the state changes the input.
        if user.passwordState != .own { writer.field("password-state=\(user.passwordState.rawValue)".utf8) }
        return writer.bytes
    }

    /// The row-MAC key of master `version`, after the version's key check value matched.
    func rowMACKey(version: Int, for user: @autoclosure () -> String) throws -> SymmetricKey {
        _ = try wrappingKey(version: version, for: user())
        guard let key = keyRing.rowMACKey(version: version) else {
            throw StoreError(.missingMasterKey, "\(user()) needs master key version \(version)")
        }
        return key
    }

    /// Writes `user` (a new row when `insert`, else over the row of the same name) with its MAC under
    /// the active master version: the one function every change of a user row goes through.
    /// Returns the number of rows written.
    @discardableResult
    func writeUser(_ user: UserRecord, insert: Bool) throws -> Int {
        let version = try activeMasterVersion()
        let mac = try HMACSHA256.authenticate(
            Self.macInput(user, version: version), key: try rowMACKey(version: version, for: "users row \(user.name)"))
        let values: [any SQLiteBindable] = [
            user.role.rawValue, user.groups.joined(separator: "\n"), user.passwordHash, user.disabled,
            user.failedAttempts, user.lockedUntil?.timeIntervalSince1970, user.passwordState.rawValue, mac, version,
            user.name,
        ]
        return try mapErrors {
            try db.run(
                insert
                    ? """
                    INSERT INTO users (role, groups_list, password_hash, disabled, failed_attempts, locked_until,
                                       must_change_password, mac, mac_version, name)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
                    : """
                    UPDATE users SET role = ?, groups_list = ?, password_hash = ?, disabled = ?, failed_attempts = ?,
                                     locked_until = ?, must_change_password = ?, mac = ?, mac_version = ?
                    WHERE name = ?
                    """, values)
        }
    }

    /// Checks the MAC of a user row read as `user` with `mac` and `version`; throws `integrity` naming
    /// the row (never its values) when it is missing or does not match.
    func verifyUser(_ user: UserRecord, mac: [UInt8]?, version: Int?) throws {
        let row = "users row \(user.name)"
        guard let mac, let version else { throw StoreError(.integrity, "\(row) has no MAC") }
        let key: SymmetricKey
        do {
            key = try rowMACKey(version: version, for: row)
        } catch let error as StoreError where error.code == .missingMasterKey {
            throw StoreError(.integrity, "\(row): its MAC is under master key version \(version), which is not held")
        }
        guard HMACSHA256.isValidAuthenticationCode(mac, for: Self.macInput(user, version: version), key: key) else {
            throw StoreError(
                .integrity, "\(row) failed authentication (a column was changed or copied from another row)")
        }
    }

    // MARK: Upgrade from schema 1

    /// Schema 2's upgrade step, inside its migration's transaction: re-wraps every data key with its
    /// owner bound, seals each conversation's count (its highest seq, as schema 1 counted), and MACs
    /// every user row. A row that does not authenticate now is left unbound, so it fails from now on
    /// instead of being blessed.
    static func bindExistingRows(_ db: SQLiteConnection, keyRing: KeyRing, verified: Set<Int>) throws {
        let rows = try db.query(
            """
            SELECT id, owner, wrapped_key, key_version,
                   (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.conversation_id = c.id)
            FROM conversations c
            """)
        for row in rows {
            let id = ConversationID(unchecked: row[0].string ?? "")
            let owner = row[1].string ?? ""
            let version = row[3].int ?? 0
            guard verified.contains(version), let wrapping = keyRing.wrappingKey(version: version),
                let dataKey = try? KeyWrap.unwrap(
                    row[2].bytes ?? [], under: wrapping, aad: unboundWrapAAD(id, version: version))
            else { continue }
            let rewrapped = try KeyWrap.wrap(dataKey, under: wrapping, aad: wrapAAD(id, owner: owner, version: version))
            let countText = Array(String(row[4].int ?? 0).utf8)
            let aad = Schema.aad(
                "conversations", row: id.rawValue, conversation: id, role: "message-count",
                keyVersion: Schema.dataKeyVersion)
            let count = try AESGCM.seal(countText, key: dataKey, aad: aad).combined
            try db.run(
                "UPDATE conversations SET wrapped_key = ?, message_count = ? WHERE id = ?",
                [rewrapped, count, id.rawValue])
        }
        let users = try db.query("SELECT \(schema2UserColumns) FROM users")
        guard !users.isEmpty else { return }
        guard let active = try db.query("SELECT MAX(version) FROM master_keys WHERE state = 'active'").first?[0].int,
            verified.contains(active), let key = keyRing.rowMACKey(version: active)
        else { return }
        for row in users {
            let user = Self.user(row)
            let mac = try HMACSHA256.authenticate(macInput(user, version: active), key: key)
            try db.run("UPDATE users SET mac = ?, mac_version = ? WHERE name = ?", [mac, active, user.name])
        }
    }

    /// Re-MACs every user row under master `target` whose MAC is under another version and still
    /// verifies (rotation); a row that does not verify keeps its old MAC and keeps failing.
    func rebindUsers(to target: Int) throws {
        let rows = try db.query("SELECT \(Self.userColumns) FROM users WHERE mac_version IS NOT ?", [target])
        for row in rows {
            let user = Self.user(row)
            guard (try? verifyUser(user, mac: row[7].bytes, version: row[8].int)) != nil else { continue }
            try writeUser(user, insert: false)
        }
    }
}
