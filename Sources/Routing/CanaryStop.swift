// The canary's automatic stop: the bounds under which a canary stops receiving new conversations on its
// own (`routing.canary.stop_when` in the configuration), and the watch that applies them. The watch sees
// every finished canary-arm call (`CallStream.finish`); when the error rate or the p95 latency of its
// recent calls crosses a bound, it stops the canary and hands the stop back once, for the caller to audit
// (ChatCore writes one `canary.stop` record naming the bound crossed and the value observed).
//
// How it stops: for a message whose conversation is not already on the canary, the gateway plans as if
// the canary were not allowed, so the router puts the conversation on control (Router.plan: a canary
// that is not allowed sends its arm to control). Conversations already on the canary stay there (they are
// sticky; the stop is about new ones). The stop lasts until the process restarts; the operator sets
// `percent: 0` or fixes the canary, and `enclave canary report` lists the stop.
//
//   canary:
//     provider: vpc-llm-next
//     percent: 5
//     stop_when: {error_rate: 0.2, p95_ms: 30000, window: 50, min_calls: 10}
internal import EnclaveConfiguration
import Foundation
import Synchronization
internal import Yams

/// When to stop a misbehaving canary.
public struct CanaryStopBounds: Sendable, Equatable {
    /// Stop when more than this share of the recent canary calls failed (0...1).
    public var errorRate: Double
    /// Stop when the p95 total latency of the recent canary calls exceeds this many milliseconds.
    public var p95Ms: Double
    /// Recent canary calls looked at.
    public var window: Int
    /// Calls needed in the window before either bound applies.
    public var minimumCalls: Int

    public init(errorRate: Double = 0.2, p95Ms: Double = 30_000, window: Int = 50, minimumCalls: Int = 10) {
        self.errorRate = errorRate
        self.p95Ms = p95Ms
        self.window = window
        self.minimumCalls = minimumCalls
    }

    static func parse(_ node: Node, reader: ConfigurationReader) throws(ConfigurationError) -> CanaryStopBounds {
        let map = try reader.mapping(
            node, "routing.canary.stop_when", allowed: ["error_rate", "p95_ms", "window", "min_calls"])
        var bounds = CanaryStopBounds()
        if let value = map["error_rate"] {
            bounds.errorRate = try reader.double(value, "stop_when error_rate", range: 0...1)
        }
        if let value = map["p95_ms"] {
            bounds.p95Ms = try reader.double(value, "stop_when p95_ms", range: 1...3_600_000)
        }
        if let value = map["window"] { bounds.window = try reader.int(value, "stop_when window", range: 1...100_000) }
        if let value = map["min_calls"] {
            bounds.minimumCalls = try reader.int(value, "stop_when min_calls", range: 1...100_000)
        }
        guard bounds.minimumCalls <= bounds.window else {
            throw reader.error(node, "stop_when min_calls must not exceed window")
        }
        return bounds
    }
}

/// A stop the watch decided: which bound was crossed, and the observed figures (no text of any message).
public struct CanaryStop: Sendable, Equatable {
    /// The audit action of the stop.
    public static let action = "canary.stop"
    public var provider: String
    /// `error-rate` or `latency`.
    public var bound: String
    /// `error_rate=0.600 bound=0.500 calls=5` or `p95_ms=... bound_ms=... calls=...`.
    public var detail: String
}

/// Watches the canary arm's recent calls and stops the canary when a bound is crossed.
public final class CanaryWatch: Sendable {
    private struct State {
        var recent: [(failed: Bool, ms: Double)] = []
        var stopped = false
    }

    /// The canary provider's name.
    public let provider: String
    public let bounds: CanaryStopBounds
    private let state = Mutex(State())

    public init(provider: String, bounds: CanaryStopBounds) {
        self.provider = provider
        self.bounds = bounds
    }

    /// The watch a canary configuration asks for; nil without a canary or without `stop_when`.
    public static func configured(_ canary: CanaryConfiguration?) -> CanaryWatch? {
        guard let canary, let bounds = canary.stopWhen else { return nil }
        return CanaryWatch(provider: canary.provider, bounds: bounds)
    }

    /// Whether the canary has been stopped.
    public var isStopped: Bool { state.withLock { $0.stopped } }

    /// Adds a finished call to the window when it is a canary-arm call of the canary; returns the stop when
    /// this call crossed a bound (once: later calls return nil).
    public func observe(_ record: CallRecord) -> CanaryStop? {
        guard record.arm == .canary, record.provider == provider, record.outcome != .started else { return nil }
        return state.withLock { state in
            guard !state.stopped else { return nil }
            state.recent.append((record.outcome != .ok, record.totalMs))
            let window = max(bounds.window, 1)
            if state.recent.count > window { state.recent.removeFirst(state.recent.count - window) }
            let calls = state.recent.count
            guard calls >= max(bounds.minimumCalls, 1) else { return nil }
            let errorRate = Double(state.recent.filter(\.failed).count) / Double(calls)
            let p95 = Self.percentile95(state.recent.map(\.ms))
            let stop: CanaryStop
            if errorRate > bounds.errorRate {
                let detail =
                    "error_rate=\(Self.fixed(errorRate, 3)) bound=\(Self.fixed(bounds.errorRate, 3)) calls=\(calls)"
                stop = CanaryStop(provider: provider, bound: "error-rate", detail: detail)
            } else if p95 > bounds.p95Ms {
                let detail = "p95_ms=\(Self.fixed(p95, 0)) bound_ms=\(Self.fixed(bounds.p95Ms, 0)) calls=\(calls)"
                stop = CanaryStop(provider: provider, bound: "latency", detail: detail)
            } else {
                return nil
            }
            state.stopped = true
            return stop
        }
    }

    /// The 95th percentile, interpolated linearly between the two nearest ranks.
    static func percentile95(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard let last = sorted.indices.last else { return 0 }
        let position = 0.95 * Double(last)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, last)
        return sorted[below] + (sorted[above] - sorted[below]) * (position - Double(below))
    }

    /// `value` with `places` decimals (as `%.Nf` prints it).
    private static func fixed(_ value: Double, _ places: Int) -> String {
        String(format: "%.\(places)f", value)
    }
}
