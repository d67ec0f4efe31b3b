// What `enclave serve`'s health listener reports: the Prometheus backend that every module's swift-metrics
// calls feed (bootstrapped here, the only place that picks a backend), and the readiness checks behind
// `/readyz` — models loaded, database and audit log writable, policy valid — each named when it fails.
//
// "Writable" is tested by writing: a probe file is created, synced and removed in the directory, because
// permission bits say nothing to a server running as root and a directory moved or replaced, a read-only
// remount or a full disk all show only when something is written.
import Audit
import ChatCore
import ChatServer
import Foundation
import Metrics
import Policy
import Prometheus
import Routing
import Synchronization

/// The process's Prometheus registry, bootstrapped once as the swift-metrics backend.
enum ServeMetrics {
    /// Makes the registry and installs it as the backend (call once, before anything records).
    static func bootstrap(version: String) -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // A reply from a CPU model takes seconds to minutes; the default buckets stop at 10 s.
        let long: [Duration] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320].map {
            .milliseconds(Int($0 * 1000))
        }
        factory.durationHistogramBuckets["enclave_ttft_seconds"] = long
        factory.durationHistogramBuckets["enclave_reply_seconds"] = long
        factory.durationHistogramBuckets["enclave_audit_write_seconds"] = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
        ].map { .microseconds(Int($0 * 1_000_000)) }
        MetricsSystem.bootstrap(factory)
        Gauge(label: "enclave_build_info", dimensions: [("version", version)]).record(1)
        return registry
    }
}

/// The checks behind `/readyz`, over the server's opened parts.
final class ReadinessProbe: Sendable {
    let gateway: ProviderGateway
    let assembly: ServerAssembly
    let databasePath: String
    /// The last answer and when it was made: however often /readyz is asked, the probe (two synced file
    /// writes) runs at most once a second, so a flood of probes cannot slow the audit log's own fsyncs.
    private let last = Mutex<(at: ContinuousClock.Instant, checks: [ReadinessCheck])?>(nil)

    init(gateway: ProviderGateway, assembly: ServerAssembly, databasePath: String) {
        self.gateway = gateway
        self.assembly = assembly
        self.databasePath = databasePath
    }

    /// What the health listener serves: these checks, and `metrics` as Prometheus text.
    func endpoints(metrics: PrometheusCollectorRegistry) -> HealthEndpoints {
        HealthEndpoints(readiness: { await self.cached() }, metrics: { metrics.emitToString() })
    }

    /// `run`'s answer, at most a second old.
    func cached() async -> [ReadinessCheck] {
        let now = ContinuousClock.now
        if let last = last.withLock({ $0 }), now - last.at < .seconds(1) { return last.checks }
        let checks = await run()
        last.withLock { $0 = (now, checks) }
        return checks
    }

    func run() async -> [ReadinessCheck] {
        [
            ReadinessCheck(name: "models", problem: models()),
            ReadinessCheck(name: "database", problem: Self.writeProbe(directoryOf: databasePath)),
            ReadinessCheck(name: "audit", problem: audit()),
            ReadinessCheck(name: "policy", problem: await policy()),
        ]
    }

    /// Every provider is loaded at start-up (serve stops otherwise); the default one must not be down.
    private func models() -> String? {
        let router = gateway.registry.router
        guard !router.providers.isEmpty else { return "no provider is configured" }
        guard !gateway.unavailable().contains(router.defaultProvider) else {
            return "the default provider \(router.defaultProvider) is down"
                + (gateway.health.openReason(router.defaultProvider).map { " (\($0))" } ?? "")
        }
        return nil
    }

    private func audit() -> String? {
        if let failure = assembly.audit.writeFailure { return "the audit log refused a write: \(failure)" }
        return Self.writeProbe(directory: assembly.audit.directory)
    }

    private func policy() async -> String? {
        let store = assembly.policy.store
        guard await store.current != nil else { return "no valid policy is loaded" }
        if let failure = await store.failure {
            return "the policy files do not load (the last good policy serves at on-prem only): \(failure)"
        }
        return nil
    }

    static func writeProbe(directoryOf file: String) -> String? {
        let directory = (file as NSString).deletingLastPathComponent
        return writeProbe(directory: directory.isEmpty ? "." : directory)
    }

    /// Creates, syncs and removes a probe file in `directory`; the failure, or nil.
    static func writeProbe(directory: String) -> String? {
        let path = directory + "/.enclave-ready-probe-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot create a file in \(directory): \(String(cString: strerror(errno)))" }
        defer { unlink(path) }
        let written = write(fd, "1", 1)
        let synced = fsync(fd)
        let error = errno
        close(fd)
        guard written == 1, synced == 0 else {
            return "cannot write a file in \(directory): \(String(cString: strerror(error)))"
        }
        return nil
    }
}
