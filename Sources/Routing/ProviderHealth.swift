// Health known in advance: a circuit breaker per provider, so the router skips a provider that just
// failed instead of waiting for its timeout again on the next message.
//
// The rule (documented for operators in deploy/enclave.yaml):
//   - A failure on the provider's side counts against it; a refusal (4xx: bad key, bad request), a
//     configuration error or a cancellation does not.
//   - Unreachable or unresponsive (`provider-down`, `provider-timeout`, or a failed health probe):
//     the breaker opens at once; the next message should not wait for the same timeout again.
//   - Any other provider-side failure (HTTP 5xx/429, malformed or cut stream, an error reported in the
//     stream, an engine failure) opens it after `threshold` consecutive failures (default 3), so one bad
//     reply does not take a healthy provider out of service.
//   - While open (the provider is *down*, skipped by the router and shown `down` by `/models`) it stays
//     so for a cool-down of `base × 2^(opens − 1)`, capped at `maximum` (defaults 5 s, doubling, 2 min).
//   - When the cool-down has passed the provider is *half-open*: the router may use it again; a success
//     (a call or a probe) closes the breaker and resets the counts, a failure opens it again for twice
//     as long.
// Time comes from an injectable clock so the rule is tested without sleeping.
internal import Foundation
internal import Synchronization

/// The circuit breakers of a registry's providers.
public final class ProviderHealth: Sendable {
    /// Cool-down settings.
    public struct Settings: Sendable, Equatable {
        /// The cool-down after the first failure.
        public var base: Duration
        /// The longest cool-down, however many failures follow.
        public var maximum: Duration
        /// Consecutive failures (other than down/timeout) that open the breaker.
        public var threshold: Int

        public init(base: Duration = .seconds(5), maximum: Duration = .seconds(120), threshold: Int = 3) {
            self.base = base
            self.maximum = maximum
            self.threshold = max(1, threshold)
        }
    }

    /// One provider's breaker.
    private struct Breaker {
        var failures = 0
        /// Times the breaker opened since the last success (the cool-down doubles with each).
        var opens = 0
        var openUntil: ContinuousClock.Instant?
        var lastError: String?
    }

    public let settings: Settings
    private let now: @Sendable () -> ContinuousClock.Instant
    private let breakers = Mutex<[String: Breaker]>([:])

    /// - Parameter now: the clock (tests move it by hand).
    public init(
        settings: Settings = Settings(), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.settings = settings
        self.now = now
    }

    /// Whether a failure with this stable code counts against the provider.
    public static func counts(_ code: String) -> Bool {
        guard let kind = ProviderFailure(rawValue: code) else { return false }
        switch kind {
        case .down, .timeout, .httpStatus, .malformedStream, .streamCut, .reported, .engine: return true
        case .rejected, .configuration, .cancelled: return false
        }
    }

    /// Records the end of a call (or probe) to `provider`: `nil` is a success, else the error code.
    public func record(_ provider: String, errorCode: String?) {
        let instant = now()
        breakers.withLock { breakers in
            guard let code = errorCode else {
                breakers[provider] = nil
                return
            }
            guard Self.counts(code) else { return }
            var breaker = breakers[provider] ?? Breaker()
            breaker.failures += 1
            breaker.lastError = code
            let unreachable = code == ProviderFailure.down.rawValue || code == ProviderFailure.timeout.rawValue
            if unreachable || breaker.failures >= settings.threshold {
                breaker.opens += 1
                breaker.openUntil = instant.advanced(by: cooldown(afterOpens: breaker.opens))
            }
            breakers[provider] = breaker
        }
    }

    /// The cool-down when the breaker opens for the `opens`-th time since the last success.
    public func cooldown(afterOpens opens: Int) -> Duration {
        var duration = settings.base
        for _ in 1..<max(opens, 1) {
            duration *= 2
            if duration >= settings.maximum { return settings.maximum }
        }
        return min(duration, settings.maximum)
    }

    /// Providers the router should skip now (breaker open).
    public func unavailable() -> Set<String> {
        let instant = now()
        return breakers.withLock { breakers in
            Set(breakers.compactMap { name, breaker in (breaker.openUntil.map { instant < $0 } ?? false) ? name : nil })
        }
    }

    /// The error code that opened the breaker of `provider`, while it is open.
    public func openReason(_ provider: String) -> String? {
        let instant = now()
        return breakers.withLock { breakers in
            guard let breaker = breakers[provider], let until = breaker.openUntil, instant < until else { return nil }
            return breaker.lastError
        }
    }

    /// Probes every provider's `health()` and records the result (a failed probe opens the breaker
    /// with `provider-down`). Run it periodically; it returns the providers found down.
    @discardableResult
    public func probe(_ providers: [any ChatProvider]) async -> Set<String> {
        await withTaskGroup(of: (String, Bool).self) { group in
            for provider in providers { group.addTask { (provider.info.name, await provider.health()) } }
            var down: Set<String> = []
            for await (name, healthy) in group {
                record(name, errorCode: healthy ? nil : ProviderFailure.down.rawValue)
                if !healthy { down.insert(name) }
            }
            return down
        }
    }
}
