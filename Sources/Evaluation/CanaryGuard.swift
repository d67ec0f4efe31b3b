// The canary's automatic stop: a gateway in front of the real one that watches the canary arm's calls and,
// when the error rate or the p95 latency of its recent calls crosses a configured bound, stops the canary
// from receiving new conversations. It writes one `canary.stop` audit record naming the bound crossed and
// the observed value (`enclave serve` puts it in front of the router when `routing.canary.stop_when` is set).
//
// How it stops: for a message whose conversation is not already on the canary, the canary provider is
// taken out of the policy's allowed set, so the router puts the conversation on control (Router.plan: a
// canary that is not allowed sends its arm to control). Conversations already on the canary stay there
// (they are sticky; the stop is about new ones). The stop lasts until the process restarts; the operator
// sets `percent: 0` or fixes the canary, and `enclave canary report` lists the stop.
public import Audit
public import ChatCore
import Foundation
public import Routing
import Synchronization

/// A ModelGateway that stops the canary on its own when it misbehaves.
public final class CanaryGuard: ModelGateway {
    public static let stopAction = "canary.stop"

    private struct State {
        var recent: [(failed: Bool, ms: Double)] = []
        var stopped = false
    }

    let inner: any ModelGateway
    public let canary: String
    public let bounds: CanaryStopBounds
    private let audit: Mutex<AuditLog?>
    private let state = Mutex(State())

    /// - Parameter audit: where the stop is recorded; `attach(audit:)` gives it later when the log is opened
    ///   after the gateway (as `enclave serve` does).
    public init(inner: any ModelGateway, canary: String, bounds: CanaryStopBounds, audit: AuditLog? = nil) {
        self.inner = inner
        self.canary = canary
        self.bounds = bounds
        self.audit = Mutex(audit)
    }

    /// The guard for a configured canary with `stop_when`, in front of `gateway`; nil when there is none.
    public static func configured(_ canary: CanaryConfiguration?, gateway: any ModelGateway) -> CanaryGuard? {
        guard let canary, let bounds = canary.stopWhen else { return nil }
        return CanaryGuard(inner: gateway, canary: canary.provider, bounds: bounds)
    }

    /// Sets the audit log the stop is recorded in.
    public func attach(audit log: AuditLog) { audit.withLock { $0 = log } }

    /// Whether the canary has been stopped.
    public var isStopped: Bool { state.withLock { $0.stopped } }

    public func providers() async -> [ProviderSummary] { await inner.providers() }

    public func unavailable() async -> Set<String> { await inner.unavailable() }

    public func run(
        _ call: ModelCall, beforeAttempt: (ModelAttempt) async throws -> Void,
        afterAttempt: (ModelAttempt) async -> Void, onText: (String) async throws -> Void
    ) async throws -> ModelReply {
        var call = call
        if isStopped, call.sticky != canary {
            call.decision.allowed.removeAll { $0 == canary }
        }
        return try await inner.run(
            call, beforeAttempt: beforeAttempt,
            afterAttempt: { attempt in
                await observe(attempt)
                await afterAttempt(attempt)
            }, onText: onText)
    }

    /// Adds a finished canary call to the window and stops the canary when a bound is crossed.
    func observe(_ attempt: ModelAttempt) async {
        guard attempt.canaryArm == "canary", attempt.provider.name == canary, attempt.outcome != "started" else {
            return
        }
        let crossed: (String, String)? = state.withLock { state in
            guard !state.stopped else { return nil }
            state.recent.append((attempt.outcome != "ok", Double(attempt.totalMs ?? 0)))
            let window = max(bounds.window, 1)
            if state.recent.count > window { state.recent.removeFirst(state.recent.count - window) }
            guard state.recent.count >= max(bounds.minimumCalls, 1) else { return nil }
            let errorRate = Double(state.recent.filter(\.failed).count) / Double(state.recent.count)
            let p95 = Statistics.quantile(sorted: state.recent.map(\.ms).sorted(), 0.95)
            let found: (String, String)?
            if errorRate > bounds.errorRate {
                found = (
                    "error-rate",
                    String(
                        format: "error_rate=%.3f bound=%.3f calls=%ld", errorRate,
                        bounds.errorRate, state.recent.count)
                )
            } else if p95 > bounds.p95Ms {
                found = (
                    "latency",
                    String(
                        format: "p95_ms=%.0f bound_ms=%.0f calls=%ld", p95, bounds.p95Ms,
                        state.recent.count)
                )
            } else {
                found = nil
            }
            if found != nil { state.stopped = true }
            return found
        }
        guard let crossed else { return }
        let (why, detail) = crossed
        // The stop holds even if the record cannot be written (failing safe means fewer canary calls); the
        // audit failure surfaces on the next message, whose own records fail the same way.
        guard let log = audit.withLock({ $0 }) else { return }
        _ = try? await log.append(
            AuditEvent(
                actor: "-", role: "-", action: Self.stopAction, subject: "provider:\(canary)", outcome: why,
                detail: detail))
    }
}
