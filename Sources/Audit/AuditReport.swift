// The compliance report: per provider, model, prompt version and user, how many model calls, tokens
// in and out, cost, blocked decisions, canary arms and error rate. Calls, tokens, cost, arms and errors
// come from `model.call` records; blocked counts any record whose decision is `blocked`.

/// What a report line is grouped by.
public enum AuditReportDimension: String, Sendable, CaseIterable {
    case provider
    case model
    case prompt
    case user
}

/// One group's totals.
public struct AuditReportLine: Sendable, Equatable {
    public var key: String
    public var calls = 0
    public var tokensIn = 0
    public var tokensOut = 0
    public var costMicros = 0
    public var blocked = 0
    public var errors = 0
    /// Calls per canary arm (calls without an arm are not counted here).
    public var arms: [String: Int] = [:]

    public init(key: String) { self.key = key }

    /// Errors per call, 0 when there were no calls.
    public var errorRate: Double { calls == 0 ? 0 : Double(errors) / Double(calls) }
}

/// Totals over a set of records, by every dimension at once.
public struct AuditReport: Sendable {
    private var groups: [AuditReportDimension: [String: AuditReportLine]] = [:]

    public init() {}

    /// The report over the records of `directory` that match `query`.
    public static func compute(directory: String, query: AuditQuery = AuditQuery()) throws -> AuditReport {
        var report = AuditReport()
        try AuditReader.forEachRecord(directory: directory) { record, _ in
            if query.matches(record) { report.add(record) }
        }
        return report
    }

    /// Counts one record.
    public mutating func add(_ record: AuditRecord) {
        guard let call = record.event.call else { return }
        let isCall = record.event.action == AuditAction.modelCall
        let blocked = call.decision == "blocked"
        guard isCall || blocked else { return }
        let keys: [AuditReportDimension: String] = [
            .provider: call.provider, .model: call.modelID, .prompt: call.promptVersion, .user: record.event.actor,
        ]
        for (dimension, rawKey) in keys {
            let key = rawKey.isEmpty ? "-" : rawKey
            var line = groups[dimension, default: [:]][key] ?? AuditReportLine(key: key)
            if blocked { line.blocked += 1 }
            if isCall {
                line.calls += 1
                line.tokensIn += call.tokensIn ?? 0
                line.tokensOut += call.tokensOut ?? 0
                line.costMicros += call.costMicros ?? 0
                if call.errorCode != nil || record.event.outcome != "ok" { line.errors += 1 }
                if let arm = call.canaryArm { line.arms[arm, default: 0] += 1 }
            }
            groups[dimension, default: [:]][key] = line
        }
    }

    /// The lines of one dimension, sorted by key.
    public func lines(by dimension: AuditReportDimension) -> [AuditReportLine] {
        (groups[dimension] ?? [:]).values.sorted { $0.key < $1.key }
    }

    /// The header of `rows(by:)`.
    public static let header = [
        "dimension", "key", "calls", "tokens_in", "tokens_out", "cost_micros", "blocked", "errors", "error_rate", "arms",
    ]

    /// The lines of one dimension as fields for `= ` rows or a table.
    public func rows(by dimension: AuditReportDimension) -> [[String]] {
        lines(by: dimension).map { line in
            let permille = line.calls == 0 ? 0 : (line.errors * 1000 + line.calls / 2) / line.calls
            let rate = "\(permille / 10).\(permille % 10)%"
            let arms = line.arms.isEmpty ? "-" : line.arms.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: ",")
            return [
                dimension.rawValue, line.key, String(line.calls), String(line.tokensIn), String(line.tokensOut),
                String(line.costMicros), String(line.blocked), String(line.errors), rate, arms,
            ].map(AuditReader.sanitizedField)
        }
    }
}
