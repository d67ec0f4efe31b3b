// `enclave audit prune [--dry-run]`: the audit log's own retention run by hand, the same prune `serve`
// runs daily (AuditPrune): records older than `audit.retention_days` leave the front of the log and a
// signed prune mark becomes the chain's start, so `audit verify` still passes and a prefix cut by anyone
// else still fails. Refused while any legal hold applies. Safe beside a running server (writers take
// turns under the log's lock and follow the pruned file).
import ArgumentParser
import Audit
import Foundation
import Storage

struct AuditPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove audit records older than audit.retention_days from the front of the log (signed).",
        discussion: """
            The removed records' MACs and links are verified first; a prefix that does not verify is never \
            pruned. The prune is itself recorded before it happens. Refused while any legal hold applies.
            """)

    @OptionGroup var options: AuditOptions

    @Flag(help: "Say how many records would go; change nothing.") var dryRun = false

    @Option(help: "Keep this many days instead of audit.retention_days (1-36500).")
    var days: Int?

    func validate() throws {
        if let days, !(1...36_500).contains(days) { throw ValidationError("--days must be within 1-36500") }
    }

    func run() async throws {
        try options.requireDirectory()
        let settings = try options.settings()
        let retention = days ?? settings.audit.retentionDays
        let cutoff = AuditPrune.cutoff(retentionDays: retention)
        let store = try ServerAssembly.openStore(settings.locations)
        let holds = try await store.holds()
        guard holds.isEmpty || dryRun else {
            throw CLIError(
                "\(holds.count) legal hold(s) apply (`enclave hold list`): the audit log is not pruned while any does")
        }
        let directory = options.directory
        do {
            let secrets = try options.secrets()
            if dryRun {
                let plan = try AuditPrune.prune(
                    directory: directory, before: cutoff, macKey: secrets.mac, signer: secrets.signer, dryRun: true)
                print("\(plan.removed) record(s) older than \(retention) days would be removed (before \(cutoff.text))")
                return
            }
            let result = try await AuditPrune.pruneRecorded(
                directory: directory, before: cutoff, macKey: secrets.mac, signer: secrets.signer,
                actor: OperatorAudit.actor, role: "operator"
            ) { event in
                _ = try AuditLog.appendOnce([event], directory: directory, macKey: secrets.mac, signer: secrets.signer)
            }
            guard let result else {
                print("no record is older than \(retention) days (before \(cutoff.text)): nothing removed")
                return
            }
            print(
                "removed records \(result.firstBefore)-\(result.through) (\(result.removed)), older than \(retention) "
                    + "days; the log now starts at record \(result.through + 1)")
        } catch let error as AuditError {
            throw CLIError(error.description)
        }
    }
}
