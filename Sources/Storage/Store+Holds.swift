// Legal holds: a user or one conversation exempted from every deletion (a user's `/delete`, `users
// delete|erase`, the retention sweep) until the hold is lifted. The Store itself refuses to delete held
// data (`delete`, `deleteUser` check here), so no caller can forget to.
//
// A hold's reason is free text an operator typed (a matter number, a court order), so it is treated like
// user text: sealed with AES-256-GCM under a key derived from the master key version named in the row,
// its AAD binding the hold's id, kind and subject (a reason moved to another hold does not open).
// Rotation re-seals every reason under the new version before the old one is retired.
internal import EnclaveCrypto
public import Foundation

/// One legal hold.
public struct LegalHold: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case user, conversation }
    public var id: String
    public var kind: Kind
    /// The user name or conversation id held.
    public var subject: String
    /// Why (free text; never logged or audited).
    public var reason: String
    /// Who placed it (the operator account).
    public var createdBy: String
    public var created: Date

    public init(id: String, kind: Kind, subject: String, reason: String, createdBy: String, created: Date) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.reason = reason
        self.createdBy = createdBy
        self.created = created
    }
}

extension Store {
    /// Places a hold on a user (who must exist) or a conversation (which must exist); returns the hold.
    /// - Parameter id: the hold's id (16 hex digits; random when nil), so a caller can audit it first.
    public func addHold(
        _ kind: LegalHold.Kind, subject: String, reason: String, by operatorName: String, id: String? = nil
    ) throws -> LegalHold {
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, reason.utf8.count <= 4096 else {
            throw StoreError(.invalidArgument, "a hold needs a reason of 1-4096 bytes")
        }
        let exists: Bool
        switch kind {
        case .user:
            exists = try mapErrors { try !db.query("SELECT 1 FROM users WHERE name = ?", [subject]).isEmpty }
        case .conversation:
            exists = try mapErrors { try !db.query("SELECT 1 FROM conversations WHERE id = ?", [subject]).isEmpty }
        }
        guard exists else { throw StoreError(.notFound, "no \(kind.rawValue) \(subject)") }
        let hold = LegalHold(
            id: try id ?? Self.newHoldID(), kind: kind, subject: subject, reason: reason,
            createdBy: operatorName, created: Date())
        let version = try activeMasterVersion()
        try mapErrors {
            try db.run(
                """
                INSERT INTO holds (id, kind, subject, reason, key_version, created_by, created)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    hold.id, kind.rawValue, subject, try sealReason(reason, hold: hold, version: version), version,
                    operatorName, hold.created.timeIntervalSince1970,
                ])
        }
        return hold
    }

    /// A new random hold id.
    public static func newHoldID() throws -> String { try SecureRandom.bytes(8).hexString }

    /// Lifts hold `id`; returns it (nil when there is no such hold).
    @discardableResult
    public func removeHold(id: String) throws -> LegalHold? {
        guard let hold = try holds().first(where: { $0.id == id }) else { return nil }
        try mapErrors { try db.run("DELETE FROM holds WHERE id = ?", [id]) }
        return hold
    }

    /// Every hold, oldest first, reasons opened. Throws `integrity` when a reason does not open.
    public func holds() throws -> [LegalHold] {
        let rows = try mapErrors {
            try db.query(
                "SELECT id, kind, subject, reason, key_version, created_by, created FROM holds ORDER BY created")
        }
        return try rows.map { row in
            var hold = LegalHold(
                id: row[0].string ?? "", kind: LegalHold.Kind(rawValue: row[1].string ?? "") ?? .user,
                subject: row[2].string ?? "", reason: "", createdBy: row[5].string ?? "",
                created: Date(timeIntervalSince1970: row[6].double ?? 0))
            hold.reason = try openReason(row[3].bytes ?? [], hold: hold, version: row[4].int ?? 0)
            return hold
        }
    }

    /// The ids of the holds that keep conversation `id` (owned by `owner`) from deletion.
    public func holdsKeeping(_ id: ConversationID, owner: String) throws -> [String] {
        try mapErrors {
            try db.query(
                """
                SELECT id FROM holds WHERE (kind = 'conversation' AND subject = ?) OR (kind = 'user' AND subject = ?)
                """, [id.rawValue, owner]
            ).compactMap { $0[0].string }
        }
    }

    /// The ids of the holds on user `name` or on any conversation it owns.
    public func holdsKeeping(user name: String) throws -> [String] {
        try mapErrors {
            try db.query(
                """
                SELECT id FROM holds WHERE (kind = 'user' AND subject = ?)
                   OR (kind = 'conversation' AND subject IN (SELECT id FROM conversations WHERE owner = ?))
                """, [name, name]
            ).compactMap { $0[0].string }
        }
    }

    /// The error for a deletion a hold forbids (names the hold ids, never their reasons).
    static func held(_ what: String, by holds: [String]) -> StoreError {
        StoreError(.held, "\(what) is under legal hold (\(holds.joined(separator: ", "))); lift the hold first")
    }

    /// Re-seals every hold reason under master `target` (rotation, while the old versions are in the ring).
    func resealHolds(to target: Int) throws {
        let rows = try db.query("SELECT id FROM holds WHERE key_version <> ?", [target])
        guard !rows.isEmpty else { return }
        for hold in try holds() where rows.contains(where: { $0[0].string == hold.id }) {
            try db.run(
                "UPDATE holds SET reason = ?, key_version = ? WHERE id = ?",
                [try sealReason(hold.reason, hold: hold, version: target), target, hold.id])
        }
    }

    // MARK: Sealing of reasons

    private func reasonKey(version: Int, hold: LegalHold) throws -> SymmetricKey {
        try HKDFSHA256.deriveKey(
            from: try wrappingKey(version: version, for: "hold \(hold.id)"), salt: [],
            info: Array("enclave/hold-reason/v1".utf8))
    }

    private static func reasonAAD(_ hold: LegalHold, version: Int) -> [UInt8] {
        var writer = AADWriter()
        writer.start(table: "holds")
        writer.field(hold.id.utf8)
        writer.field(hold.kind.rawValue.utf8)
        writer.field(hold.subject.utf8)
        writer.field(String(version).utf8)
        return writer.bytes
    }

    private func sealReason(_ reason: String, hold: LegalHold, version: Int) throws -> [UInt8] {
        var plain = Array(reason.utf8)
        defer { secureZero(&plain) }
        return try AESGCM.seal(
            plain, key: try reasonKey(version: version, hold: hold), aad: Self.reasonAAD(hold, version: version)
        )
        .combined
    }

    private func openReason(_ sealed: [UInt8], hold: LegalHold, version: Int) throws -> String {
        let key = try reasonKey(version: version, hold: hold)
        guard let box = try? SealedBox(combined: sealed),
            var plain = try? AESGCM.open(box, key: key, aad: Self.reasonAAD(hold, version: version))
        else { throw StoreError(.integrity, "holds row \(hold.id): reason failed authentication") }
        defer { secureZero(&plain) }
        return String(decoding: plain, as: UTF8.self)
    }
}
