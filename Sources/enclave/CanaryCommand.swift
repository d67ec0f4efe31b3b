// `enclave canary report`: the canary arm against control from the audit log's call records and the
// `/feedback` ratings (each tied to the call it rates), with a verdict (promote, keep, roll back) and the
// rule that produced it, and any automatic stop of the canary. Reads records only (no message text); run
// `enclave audit verify` to check the log's integrity. With `--judge NAME`, a sample of each arm's replies is
// opened from the store (so the master key is needed) and rated for tone by that provider, through the
// policy gate and the audit log like any model call; a tagged conversation's reply never goes to an
// external judge.
import ArgumentParser
import Audit
import ChatCore
import Evaluation
import Foundation
import Routing

struct CanaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canary", abstract: "Watch a canary provider against control.",
        subcommands: [CanaryReportCommand.self])
}

struct CanaryReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Per arm: conversations, thumbs-up, errors, latency, tokens, cost, refusals, reply length, tone; "
            + "a verdict.")

    @Option(help: "The audit directory (default: $ENCLAVE_AUDIT_DIR or <data dir>/audit).") var dir: String?
    @OptionGroup var options: ConfigOptions
    @Option(help: "Only calls since this time: an ISO 8601 instant, or an age such as 90m, 24h, 7d.") var since: String?
    @Option(help: "Canary conversations needed before a promotion.") var minConversations = 30
    @Option(help: "A canary p95 latency above control's times this is rolled back.") var latencyFactor = 1.5
    @Option(help: "A provider that rates the tone of a sample of each arm's replies (policy-gated, audited).")
    var judge: String?
    @Option(help: "Replies per arm the judge rates.") var judgeSample = 20
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory =
            dir ?? environment["ENCLAVE_AUDIT_DIR"]
            ?? (options.dataDir ?? environment["ENCLAVE_DATA_DIR"] ?? "data") + "/audit"
        guard FileManager.default.fileExists(atPath: directory + "/" + AuditLog.logFileName) else {
            throw ValidationError("no audit log in \(directory); pass --dir or --data-dir")
        }
        let cutoff = try since.map { try Self.instant($0, now: Date()) }
        var records: [AuditRecord] = []
        try AuditReader.forEachRecord(directory: directory) { record, _ in records.append(record) }
        var report = CanaryReport(
            records: records, since: cutoff.map { UTCMillis($0) },
            rule: .init(minimumConversations: minConversations, latencyFactor: latencyFactor))
        if let judge { report = try await rateTone(report, records: records, judge: judge, since: cutoff) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(TerminalReport.canary(report), terminator: "")
        }
    }

    /// The report with a judge's tone scores, through the data directory's store, policy and audit log.
    func rateTone(_ report: CanaryReport, records: [AuditRecord], judge: String, since: Date?) async throws
        -> CanaryReport
    {
        let settings = try options.resolve()
        let (gateway, _, registry) = try await EvalGateway.open(settings: settings, required: [judge])
        let backends = try await ServerAssembly.open(settings.locations, gateway: gateway)
        let tone = ToneJudge(
            store: backends.store, policy: backends.policy, gateway: gateway, audit: backends.audit, judge: judge,
            sample: judgeSample)
        let rated: Result<CanaryReport, any Error>
        do {
            rated = .success(try await tone.rate(report, records: records, since: since.map { UTCMillis($0) }))
        } catch {
            rated = .failure(error)
        }
        await backends.close()
        await registry.shutdown()
        return try rated.get()
    }

    /// `2026-12-01T00:00:00Z`, or an age (`45m`, `24h`, `7d`) before `now`.
    static func instant(_ text: String, now: Date) throws -> Date {
        if let unit = text.last, let amount = Double(text.dropLast()), amount >= 0 {
            let seconds: Double? = ["m": 60, "h": 3600, "d": 86400][String(unit)]
            if let seconds { return now.addingTimeInterval(-amount * seconds) }
        }
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        throw ValidationError("--since takes an ISO 8601 instant or an age like 24h, 7d")
    }
}
