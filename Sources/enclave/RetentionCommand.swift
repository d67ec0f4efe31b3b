// `enclave retention sweep [--dry-run]`: applies the policy's retention rules now (RetentionSweep in
// ChatCore), and `RetentionService`, the same sweep run daily inside `enclave serve`. The sweep
// crypto-shreds each expired conversation that no legal hold keeps, audited first with the rule; the
// dry run lists what would go and changes nothing.
import ArgumentParser
import Audit
import ChatCore
import Foundation
import Logging
import Policy
import ServiceLifecycle
import Storage

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "Apply the policy's retention rules.", subcommands: [Sweep.self])

    struct Sweep: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Crypto-shred every conversation whose retention period has ended (held ones are kept).",
            discussion: "The server runs the same sweep once a day.")
        @Flag(help: "List what would be shredded; change nothing.") var dryRun = false
        @Option(help: "Policy directory (default: $ENCLAVE_POLICIES, else server.policies, else ./policies).")
        var policies: String?
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            var flags = options.flags
            flags.policies = policies
            let settings = try Settings.resolve(flags)
            let policy: PolicySet
            do {
                policy = try PolicySet.load(directory: settings.policies.value)
            } catch {
                throw CLIError("the policies do not load, so nothing is swept: \(error)")
            }
            let store = try ServerAssembly.openStore(settings.locations)
            let ring = try KeyRing.load(settings.keySource.value)
            let directory = settings.auditDirectory.value
            let sweep = RetentionSweep(store: store, actor: OperatorAudit.actor, role: "operator") { events in
                for event in events {
                    try OperatorAudit.record(
                        event.action, subject: event.subject, detail: event.detail, ring: ring,
                        auditDirectory: directory)
                }
            }
            guard !policy.retention.isEmpty else {
                print("the policies in \(settings.policies.value) have no retention rules: every conversation is kept")
                return
            }
            let report = try await sweep.run(policy: policy, dryRun: dryRun)
            for expired in report.expired {
                print(
                    "\(dryRun ? "would shred" : "shredded")\t\(expired.id)\trule=\(expired.rule)\tdays=\(expired.days)")
            }
            for id in report.held { print("held\t\(id)") }
            for id in report.damaged { print("not judged (integrity)\t\(id)") }
            print(RetentionService.summary(report, dryRun: dryRun))
        }
    }
}

/// The daily retention sweep inside `enclave serve`, with the serving policy and the server's audit log,
/// followed by the audit log's own retention.
struct RetentionService: Service {
    let store: Store
    let policy: PolicyStore
    let audit: AuditLog
    let logger: Logger
    var interval: Duration = .seconds(86_400)
    var now: @Sendable () -> Date = { Date() }

    func run() async {
        let audit = self.audit
        let sweep = RetentionSweep(store: store, actor: "system:retention", role: "system", now: now) { events in
            _ = try await audit.append(contentsOf: events)
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // A failing policy keeps its last good version serving; no policy at all sweeps nothing.
                if let current = await policy.current {
                    do {
                        let report = try await sweep.run(policy: current)
                        logger.info(
                            "retention.sweep",
                            metadata: [
                                "retention.shredded": "\(report.expired.count)",
                                "retention.held": "\(report.held.count)",
                                "retention.damaged": "\(report.damaged.count)",
                            ])
                    } catch {
                        logger.error("retention.sweep-failed", metadata: ["error": "\(error)"])
                    }
                }
                await pruneAuditLog()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// The audit log's own retention: records older than `audit.retention_days` leave the front of the log
    /// (AuditPrune), recorded first; nothing is pruned while any legal hold applies, since the records of
    /// a matter under hold are evidence too.
    func pruneAuditLog() async {
        do {
            guard try await store.holds().isEmpty else {
                logger.info("audit.prune-skipped", metadata: ["reason": "legal-hold"])
                return
            }
            if let result = try await audit.pruneExpired(
                now: UTCMillis(now()), actor: "system:retention", role: "system")
            {
                logger.info(
                    "audit.pruned",
                    metadata: ["audit.removed": "\(result.removed)", "audit.first": "\(result.through + 1)"])
            }
        } catch {
            logger.error("audit.prune-failed", metadata: ["error": "\(error)"])
        }
    }

    /// One line for people: counts of what a sweep did.
    static func summary(_ report: RetentionSweep.Report, dryRun: Bool) -> String {
        "\(report.expired.count) conversation(s) \(dryRun ? "would be shredded" : "shredded"), "
            + "\(report.held.count) kept by a legal hold, \(report.damaged.count) not judged (integrity), "
            + "\(report.kept) within their period"
    }
}

extension ServerAssembly {
    /// The daily retention sweep over these back ends, with the serving policy.
    func retentionService(logger: Logger) -> RetentionService {
        RetentionService(store: store, policy: policy.store, audit: audit, logger: logger)
    }
}
