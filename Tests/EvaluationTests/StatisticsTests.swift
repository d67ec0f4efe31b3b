// The interval estimates against textbook values: Wilson intervals (Newcombe 1998 quotes 0.490-0.943 for
// 8/10, and 0-0.278 for 0/10), McNemar's exact p from the binomial sum, the paired Wald interval from its
// formula worked by hand, type-7 quantiles (R's default), and the bootstrap against the normal
// approximation it converges to for a large sample.
import Evaluation
import Testing

@Suite struct StatisticsTests {
    @Test func wilsonMatchesTheTextbook() {
        let eight = Statistics.wilson(successes: 8, trials: 10)
        #expect(abs(eight.low - 0.4902) < 1e-4 && abs(eight.high - 0.9433) < 1e-4)
        let none = Statistics.wilson(successes: 0, trials: 10)
        #expect(none.low == 0 && abs(none.high - 0.2775) < 1e-4)
        let all = Statistics.wilson(successes: 20, trials: 20)
        #expect(abs(all.low - 0.8389) < 1e-4 && all.high == 1)
    }

    @Test func mcnemarExactIsTheTwoSidedBinomialTail() {
        // b = 10, c = 2: 2 × (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158 / 4096.
        #expect(abs(Statistics.mcnemarExact(b: 10, c: 2) - 158.0 / 4096) < 1e-12)
        #expect(Statistics.mcnemarExact(b: 3, c: 3) == 1)
        #expect(Statistics.mcnemarExact(b: 0, c: 0) == 1)
    }

    @Test func pairedWaldIntervalByHand() {
        // b = 6, c = 2, n = 40: d = 0.1, var = (8 − 16/40) / 1600 = 0.00475, half = 1.96 × 0.068920.
        let interval = Statistics.pairedDifference(b: 6, c: 2, n: 40)
        #expect(abs(interval.low - -0.035081) < 1e-5 && abs(interval.high - 0.235081) < 1e-5)
    }

    @Test func quantilesInterpolateLinearly() {
        #expect(Statistics.quantile(sorted: [1, 2, 3, 4], 0.5) == 2.5)
        #expect(abs(Statistics.quantile(sorted: [1, 2, 3, 4], 0.95) - 3.85) < 1e-12)
        #expect(Statistics.quantile(sorted: [7], 0.95) == 7)
    }

    @Test func theBootstrapAgreesWithTheNormalApproximationOnALargeSample() {
        // 400 values, half 0 and half 1: mean 0.5, standard error 0.025, so about ±0.049.
        let values = (0..<400).map { Double($0 % 2) }
        let interval = Statistics.bootstrap(values)
        #expect(abs(interval.low - 0.451) < 0.012 && abs(interval.high - 0.549) < 0.012)
        #expect(Statistics.bootstrap([0.5, 0.5, 0.5]) == Interval(low: 0.5, high: 0.5))
        // A paired bootstrap of identical scores has no spread.
        #expect(Statistics.pairedBootstrap(other: [0.2, 0.9], reference: [0.2, 0.9]) == Interval(low: 0, high: 0))
    }
}
