// Master-key rotation: register a new version, re-wrap every data key in small batches (each its own
// transaction, so a crash loses at most one batch of work and the next run resumes), then retire the
// old versions. Messages are never re-encrypted: only the wrapped data keys change.
internal import EnclaveCrypto
internal import Foundation

/// What a rotation did.
public struct RotationReport: Sendable, Equatable {
    /// The version every data key is now wrapped under.
    public var version: Int
    /// Data keys re-wrapped by this call.
    public var rewrapped: Int
    /// Versions retired by this call.
    public var retired: [Int]
}

extension Store {
    /// Every master version the database knows, with its state and how many data keys use it.
    public func masterKeyStatus() throws -> [MasterKeyStatus] {
        let rows = try mapErrors {
            try db.query(
                """
                SELECT k.version, k.state, (SELECT COUNT(*) FROM conversations c WHERE c.key_version = k.version)
                FROM master_keys k ORDER BY k.version
                """)
        }
        return rows.map { row in
            let version = row[0].int ?? 0
            return MasterKeyStatus(
                version: version, state: MasterKeyStatus.State(rawValue: row[1].string ?? "") ?? .retired,
                conversations: row[2].int ?? 0, available: keyRing.wrappingKey(version: version) != nil)
        }
    }

    /// Makes the key ring's newest version the active one (recording its key check value) and marks
    /// older active versions as retiring. Idempotent: a resumed rotation calls it again harmlessly.
    @discardableResult
    public func beginRotation() throws -> Int {
        let newest = keyRing.latestVersion
        try mapErrors {
            try db.transaction {
                let known = try db.query("SELECT state FROM master_keys WHERE version = ?", [newest]).first
                if known == nil {
                    guard let check = try keyRing.checkValue(version: newest),
                        newest > (try db.query("SELECT MAX(version) FROM master_keys").first?[0].int ?? 0)
                    else {
                        throw StoreError(.invalidArgument, "master key version \(newest) is older than the database's")
                    }
                    try db.run(
                        "INSERT INTO master_keys (version, check_value, state, created) VALUES (?, ?, 'active', ?)",
                        [newest, check, Date().timeIntervalSince1970])
                } else if known?[0].string != MasterKeyStatus.State.active.rawValue {
                    throw StoreError(
                        .invalidArgument, "master key version \(newest) is retired; it cannot become active")
                }
                try db.run("UPDATE master_keys SET state = 'retiring' WHERE state = 'active' AND version < ?", [newest])
            }
        }
        return newest
    }

    /// Re-wraps up to `limit` data keys that are not yet under the active version, in one
    /// transaction. Returns how many it re-wrapped (0 when none are left).
    public func rewrapBatch(limit: Int = 100) throws -> Int {
        try mapErrors {
            try db.transaction {
                let target = try activeMasterVersion()
                let wrapping = try wrappingKey(version: target, for: "re-wrapping")
                let rows = try db.query(
                    "SELECT id, wrapped_key, key_version, owner FROM conversations WHERE key_version <> ? LIMIT ?",
                    [target, limit])
                for row in rows {
                    let id = ConversationID(unchecked: row[0].string ?? "")
                    let owner = row[3].string ?? ""
                    let dataKey = try unwrapDataKey(
                        id, owner: owner, wrapped: row[1].bytes ?? [], version: row[2].int ?? 0)
                    let wrapped = try KeyWrap.wrap(
                        dataKey, under: wrapping, aad: Self.wrapAAD(id, owner: owner, version: target))
                    try db.run(
                        "UPDATE conversations SET wrapped_key = ?, key_version = ? WHERE id = ?",
                        [wrapped, target, id.rawValue])
                }
                return rows.count
            }
        }
    }

    /// Retires every non-active version once no data key uses it; returns the versions retired.
    @discardableResult
    public func finishRotation() throws -> [Int] {
        let retired = try mapErrors {
            try db.transaction { () -> [Int] in
                let target = try activeMasterVersion()
                let remaining = try db.query("SELECT COUNT(*) FROM conversations WHERE key_version <> ?", [target])
                guard remaining.first?[0].int == 0 else {
                    throw StoreError(.invalidArgument, "data keys remain under old master versions; re-wrap first")
                }
                let old = try db.query(
                    "SELECT version FROM master_keys WHERE state <> 'retired' AND version <> ?", [target]
                )
                .compactMap { $0[0].int }
                // User-row MACs move to the new version while the old keys are still in the ring.
                try rebindUsers(to: target)
                try resealHolds(to: target)
                try db.run("UPDATE master_keys SET state = 'retired' WHERE version <> ?", [target])
                return old
            }
        }
        if let target = retired.isEmpty ? nil : try? activeMasterVersion() { keyRing.removeVersions(below: target) }
        return retired
    }

    /// Rotates to the key ring's newest version: begin, re-wrap in batches (yielding between them so
    /// appends keep flowing), retire the old versions.
    public func rotate(batchSize: Int = 100) async throws -> RotationReport {
        let version = try beginRotation()
        var total = 0
        while true {
            let count = try rewrapBatch(limit: batchSize)
            total += count
            if count == 0 { break }
            await Task.yield()
        }
        return RotationReport(version: version, rewrapped: total, retired: try finishRotation())
    }
}
