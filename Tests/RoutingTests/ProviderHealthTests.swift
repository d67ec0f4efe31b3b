// The circuit breaker's documented rule, on a clock moved by hand: unreachable opens at once,
// other provider-side failures after `threshold` in a row, refusals never; the cool-down doubles per
// opening up to the maximum; a success closes it; the router skips an open provider; a failed probe
// opens it.
import Foundation
import Inference
import Policy
import Synchronization
import Testing

@testable import Routing

/// A clock the test moves.
final class ManualClock: Sendable {
    private let current = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 = $0.advanced(by: duration) } }
}

/// A provider whose health check answers `healthy`.
struct ProbedProvider: ChatProvider {
    let info: ProviderInfo
    let healthy: Bool

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        AsyncThrowingStream { $0.finish() }
    }

    func health() async -> Bool { healthy }
}

@Suite struct ProviderHealthTests {
    func breaker(_ clock: ManualClock) -> ProviderHealth {
        ProviderHealth(settings: .init(base: .seconds(5), maximum: .seconds(12), threshold: 3), now: { clock.now })
    }

    @Test func unreachableOpensAtOnceForTheCooldownThenHalfOpens() {
        let clock = ManualClock()
        let health = breaker(clock)
        health.record("vpc", errorCode: "provider-timeout")
        #expect(health.unavailable() == ["vpc"])
        #expect(health.openReason("vpc") == "provider-timeout")
        clock.advance(.milliseconds(4999))
        #expect(health.unavailable() == ["vpc"])
        clock.advance(.milliseconds(1))
        #expect(health.unavailable().isEmpty)
        // Failing again while half-open: twice as long; then capped at the maximum.
        health.record("vpc", errorCode: "provider-down")
        clock.advance(.milliseconds(9999))
        #expect(health.unavailable() == ["vpc"])
        clock.advance(.milliseconds(1))
        #expect(health.unavailable().isEmpty)
        health.record("vpc", errorCode: "provider-down")
        clock.advance(.seconds(12))
        #expect(health.unavailable().isEmpty)
    }

    @Test func otherFailuresOpenAfterThreeInARowAndASuccessResets() {
        let clock = ManualClock()
        let health = breaker(clock)
        health.record("vpc", errorCode: "provider-http-error")
        health.record("vpc", errorCode: "provider-stream-cut")
        #expect(health.unavailable().isEmpty)
        health.record("vpc", errorCode: nil)
        health.record("vpc", errorCode: "provider-http-error")
        health.record("vpc", errorCode: "provider-malformed-stream")
        #expect(health.unavailable().isEmpty)
        health.record("vpc", errorCode: "provider-error")
        #expect(health.unavailable() == ["vpc"])
        health.record("vpc", errorCode: nil)
        #expect(health.unavailable().isEmpty)
    }

    @Test func refusalsAndCancellationsDoNotCount() {
        let health = breaker(ManualClock())
        for _ in 0..<10 {
            for code in ["provider-rejected", "provider-config", "cancelled", "not-a-code"] {
                health.record("ext", errorCode: code)
            }
        }
        #expect(health.unavailable().isEmpty)
    }

    @Test func theRouterSkipsAnOpenProviderAndAFailedProbeOpensIt() async {
        let clock = ManualClock()
        let health = breaker(clock)
        let providers: [any ChatProvider] = [
            ProbedProvider(info: ProviderInfo(name: "local", residency: .onPrem, model: "m"), healthy: true),
            ProbedProvider(info: ProviderInfo(name: "vpc-a", residency: .vpc, model: "m"), healthy: false),
        ]
        #expect(await health.probe(providers) == ["vpc-a"])
        let router = Router(providers: providers.map(\.info), defaultProvider: "vpc-a")
        let decision = TestPolicy.decision(allowed: ["local", "vpc-a"])
        let plan = try? router.plan(
            RouteRequest(conversation: "c1", user: "u"), decision: decision, unavailable: health.unavailable())
        #expect(plan?.primary == "local")
        #expect(plan?.candidates.contains("vpc-a") == false)
    }
}
