// Binds ChatCore's AuditRecorder to the Audit library: each entry becomes an AuditEvent appended
// durably (or the action does not happen), and `/audit` queries search the log's directory.
public import Audit
import Foundation

/// The audit log as ChatCore's `AuditRecorder` (and `BreakGlassRecorder`: it key-hashes the reason).
public struct AuditAdapter: BreakGlassRecorder {
    public let log: AuditLog

    public init(log: AuditLog) {
        self.log = log
    }

    public func record(_ entry: AuditEntry) async throws {
        try await begin(entry).durable()
    }

    /// Submits the record to the log's writer now; `durable()` waits for its fsync.
    public func begin(_ entry: AuditEntry) -> PendingAuditRecord {
        submit(entry, detail: nil)
    }

    /// The break-glass record: the reason as `reason-hmac=hmac:<32 hex> reason-chars=<n>` in `detail`.
    public func recordBreakGlass(_ entry: AuditEntry, reason: String) async throws {
        let detail = "reason-hmac=\(try log.pseudonym(reason)) reason-chars=\(reason.count)"
        try await submit(entry, detail: detail).durable()
    }

    private func submit(_ entry: AuditEntry, detail: String?) -> PendingAuditRecord {
        let call = entry.call.map { call in
            ModelCallFields(
                modelID: call.modelID, promptVersion: call.promptVersion, provider: call.provider,
                residency: call.residency, canaryArm: call.canaryArm, decision: call.decision, rule: call.rule,
                tags: call.tags, detectorCounts: call.detectorCounts, tokensIn: call.tokensIn,
                tokensOut: call.tokensOut, ttftMs: call.ttftMs, totalMs: call.totalMs, costMicros: call.costMicros,
                errorCode: call.errorCode)
        }
        let event = AuditEvent(
            actor: entry.actor, role: entry.role, origin: entry.origin, action: entry.action,
            subject: entry.subject, outcome: entry.outcome, detail: detail, call: call)
        let ticket = Result { try log.submit(event) }
        return PendingAuditRecord { [log] in _ = try await log.durable(ticket.get()) }
    }

    /// `/audit [search] key=value ...` (from= to= user= action= provider= model= decision= tag= arm= limit=);
    /// the latest 100 records when no limit is given. The first row is the header.
    public func query(_ arguments: [String]) async throws -> [[String]] {
        let words = arguments.first == "search" ? Array(arguments.dropFirst()) : arguments
        var query: AuditQuery
        do {
            query = try AuditQuery(words: words)
        } catch {
            throw ChatFailure(.badArguments, "\(error)")
        }
        if query.limit == nil { query.limit = 100 }
        let records = try AuditReader.search(directory: log.directory, query: query)
        return [AuditReader.rowHeader] + records.map(AuditReader.row)
    }
}
