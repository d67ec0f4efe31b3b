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

    public func pseudonym(_ value: String) -> String {
        (try? log.pseudonym(value)) ?? "-"
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
                errorCode: call.errorCode, replyChars: call.replyChars, refusal: call.refusal, region: call.region,
                route: call.route, policySHA256: call.policySHA256, tokensEstimated: call.tokensEstimated,
                droppedTurns: call.droppedTurns)
        }
        let ticket = Result {
            let actor = entry.pseudonymous ? try log.pseudonym(entry.actor) : entry.actor
            let subject = entry.pseudonymous ? try log.pseudonym(entry.subject) : entry.subject
            return try log.submit(
                AuditEvent(
                    actor: actor, role: entry.role, origin: entry.origin, action: entry.action, subject: subject,
                    outcome: entry.outcome, detail: detail ?? entry.detail, call: call))
        }
        return PendingAuditRecord { [log] in _ = try await log.durable(ticket.get()) }
    }

    /// `/audit [search] key=value ...` (from= to= user= action= provider= model= decision= tag= arm= limit=);
    /// the latest 100 records when no limit is given. The first row is the header.
    /// `/audit verify`: the full check's report rows (`records`, `checkpoints`, `check`, `result ok|fail ...`).
    /// `/audit report [by=provider|model|prompt|user] [filters]`: the report's header and rows.
    public func query(_ arguments: [String]) async throws -> [[String]] {
        switch arguments.first {
        case "verify":
            guard arguments.count == 1 else { throw ChatFailure(.badArguments, "usage: /audit verify") }
            return try log.verify().rows
        case "report": return try report(Array(arguments.dropFirst()))
        default: break
        }
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

    private func report(_ words: [String]) throws -> [[String]] {
        var dimensions = AuditReportDimension.allCases
        var filters: [String] = []
        for word in words {
            if word.hasPrefix("by=") {
                guard let dimension = AuditReportDimension(rawValue: String(word.dropFirst(3))) else {
                    throw ChatFailure(.badArguments, "by= must be provider, model, prompt or user")
                }
                dimensions = [dimension]
            } else {
                filters.append(word)
            }
        }
        let query: AuditQuery
        do {
            query = try AuditQuery(words: filters)
        } catch {
            throw ChatFailure(.badArguments, "\(error)")
        }
        let report = try AuditReport.compute(directory: log.directory, query: query)
        return [AuditReport.header] + dimensions.flatMap { report.rows(by: $0) }
    }
}
