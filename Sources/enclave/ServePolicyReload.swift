// Policy reload inside `enclave serve`: a ServiceLifecycle service that reloads the policy directory on
// SIGHUP and when its files change (polled), beside the admin's `/reload`. Every attempt, and the
// start-up load, is audited as `policy.reload` with the same fields `/reload` records: actor = what
// triggered it (`startup`, `sighup`, `file-change`), subject = the SHA-256 of the set read and, for a
// rejection, the serving SHA-256 and the first error's file:line:code. A rejected set never serves;
// the gate restricts decisions to on-prem until the files load again.
import Audit
import ChatCore
import Logging
import Policy
import ServiceLifecycle
import UnixSignals

/// Reloads the server's policy on SIGHUP and on file change until graceful shutdown.
struct PolicyReloadService: Service {
    let gate: PolicyDirectoryGate
    let audit: AuditLog
    let logger: Logger
    /// How often the directory is checked for changes.
    var interval: Duration = .seconds(1)

    func run() async throws {
        // Trap SIGHUP before anything else, so a reload signal never meets the default (terminate).
        let signals = await UnixSignalsSequence(trapping: .sighup)
        if let startup = await gate.store.lastResult { await record(startup, trigger: "startup") }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals { await record(await gate.store.reload(), trigger: "sighup") }
                }
                group.addTask {
                    await gate.store.run(interval: interval) { result in await record(result, trigger: "file-change") }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Audits one attempt and logs a rejection for the operator (file:line:column and hint, no text).
    private func record(_ result: PolicyLoadResult, trigger: String) async {
        if !result.ok {
            logger.error(
                "policy rejected (\(trigger)); the last good policy serves at on-prem only",
                metadata: ["errors": "\(result.issues.map(\.description).joined(separator: "; "))"])
        } else {
            logger.info("policy loaded (\(trigger))", metadata: ["sha256": "\(result.sha256 ?? "-")"])
        }
        do {
            _ = try await audit.append(PolicyDirectoryGate.policyReloadEntry(result, actor: trigger))
        } catch {
            logger.error("could not audit a policy reload", metadata: ["error": "\(error)"])
        }
    }
}

extension ServerAssembly {
    /// The service that keeps this server's policy current, for the serve ServiceGroup. Its end (at
    /// graceful shutdown) does not cancel the group, so the chat server still drains its replies.
    func policyReloader(logger: Logger) -> ServiceGroupConfiguration.ServiceConfiguration {
        .init(
            service: PolicyReloadService(gate: policy, audit: audit, logger: logger),
            successTerminationBehavior: .ignore)
    }
}
