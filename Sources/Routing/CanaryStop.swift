// The bounds under which a canary stops receiving new conversations on its own (`routing.canary.stop_when`
// in the configuration). Routing only carries them; the watch itself is a gateway in front of the router
// (Evaluation's CanaryGuard), which audits the stop.
//
//   canary:
//     provider: vpc-llm-next
//     percent: 5
//     stop_when: {error_rate: 0.2, p95_ms: 30000, window: 50, min_calls: 10}
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
