// The statistics behind the reports, from their textbook definitions:
//   - Wilson score interval for a binomial proportion (Wilson 1927), 95% with z = 1.959964;
//   - percentile bootstrap for a weighted mean (Efron), with a fixed-seed generator so a report is
//     reproducible from its run file;
//   - for two providers on the same items: McNemar's exact test on the discordant pairs, the Wald interval
//     of a paired difference of proportions (pass/fail), and a paired bootstrap of the mean difference
//     (graded scores);
//   - quantiles by linear interpolation between order statistics (Hyndman-Fan type 7).
import Foundation

/// A two-sided interval.
public struct Interval: Sendable, Equatable, Codable {
    public var low: Double
    public var high: Double

    public init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }
}

/// xorshift64* (Vigna 2016): a small generator whose sequence is fixed by its seed, so a report's bootstrap
/// intervals are reproducible from its run file.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

/// Interval estimates.
public enum Statistics {
    /// z for a two-sided 95% interval.
    public static let z95 = 1.959963984540054
    /// Bootstrap resamples.
    public static let resamples = 2000

    /// The Wilson score interval of `successes` out of `trials`; [0, 1] when there are no trials.
    public static func wilson(successes: Int, trials: Int, z: Double = z95) -> Interval {
        guard trials > 0 else { return Interval(low: 0, high: 1) }
        let n = Double(trials)
        let p = Double(successes) / n
        let z2 = z * z
        let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        return Interval(low: max(0, centre - half), high: min(1, centre + half))
    }

    /// The weighted mean of `values`.
    public static func mean(_ values: [Double], weights: [Double]? = nil) -> Double {
        let weights = weights ?? Array(repeating: 1, count: values.count)
        let total = weights.reduce(0, +)
        guard total > 0 else { return 0 }
        return zip(values, weights).reduce(0) { $0 + $1.0 * $1.1 } / total
    }

    /// The 95% percentile-bootstrap interval of the weighted mean of `values`.
    public static func bootstrap(_ values: [Double], weights: [Double]? = nil, seed: UInt64 = 0x5EED) -> Interval {
        guard !values.isEmpty else { return Interval(low: 0, high: 1) }
        let weights = weights ?? Array(repeating: 1, count: values.count)
        var generator = SeededGenerator(seed: seed)
        var means: [Double] = []
        means.reserveCapacity(resamples)
        for _ in 0..<resamples {
            var sum = 0.0
            var total = 0.0
            for _ in 0..<values.count {
                let index = Int.random(in: 0..<values.count, using: &generator)
                sum += values[index] * weights[index]
                total += weights[index]
            }
            means.append(total > 0 ? sum / total : 0)
        }
        means.sort()
        return Interval(low: quantile(sorted: means, 0.025), high: quantile(sorted: means, 0.975))
    }

    /// The `p` quantile of sorted values (type 7); 0 when empty.
    public static func quantile(sorted values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let position = p * Double(values.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, values.count - 1)
        return values[below] + (values[above] - values[below]) * (position - Double(below))
    }

    /// McNemar's exact two-sided p-value for `b` and `c` discordant pairs (binomial, p = 1/2).
    public static func mcnemarExact(b: Int, c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        let k = min(b, c)
        // Sum of C(n, i) / 2^n for i ≤ k, in logs to stay finite for large n.
        var tail = 0.0
        var logChoose = 0.0
        for i in 0...k {
            if i > 0 { logChoose += log(Double(n - i + 1)) - log(Double(i)) }
            tail += exp(logChoose - Double(n) * log(2.0))
        }
        return min(1, 2 * tail)
    }

    /// The 95% Wald interval of the paired difference p(other) − p(reference) over `n` pairs, where `b` is
    /// the number of pairs the other passed and the reference failed, and `c` the reverse.
    public static func pairedDifference(b: Int, c: Int, n: Int, z: Double = z95) -> Interval {
        guard n > 0 else { return Interval(low: -1, high: 1) }
        let size = Double(n)
        let difference = Double(b - c) / size
        let variance = (Double(b + c) - Double((b - c) * (b - c)) / size) / (size * size)
        let half = z * max(variance, 0).squareRoot()
        return Interval(low: difference - half, high: difference + half)
    }

    /// The 95% paired-bootstrap interval of the weighted mean of `other − reference` over the same items.
    public static func pairedBootstrap(
        other: [Double], reference: [Double], weights: [Double]? = nil, seed: UInt64 = 0x9A1D
    ) -> Interval {
        bootstrap(zip(other, reference).map { $0 - $1 }, weights: weights, seed: seed)
    }
}
