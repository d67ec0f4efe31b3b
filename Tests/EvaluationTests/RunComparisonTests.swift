// `eval compare`: regressions item by item and in aggregate, between runs built here with known scores.
import Evaluation
import Foundation
import Testing

func syntheticRun(_ id: String, provider: String, scores: [Double?]) -> EvalRun {
    EvalRun(
        id: id, suite: "s", started: Date(timeIntervalSince1970: 0), finished: Date(timeIntervalSince1970: 1),
        repetitions: 1, judge: nil,
        providers: [
            ProviderMeta(name: provider, residency: "vpc", model: "m", inputPerMillion: 0, outputPerMillion: 0)
        ],
        categories: ["c"],
        results: scores.enumerated().map { index, score in
            ItemResult(
                item: "i\(index)", category: "c", weight: 1, graded: false, provider: provider, repetition: 0,
                outcome: score == nil ? .skippedByPolicy : .scored, score: score)
        })
}

@Suite struct RunComparisonTests {
    @Test func sixNewFailuresOutOfTwentyAreARegression() throws {
        let before = syntheticRun("a", provider: "p", scores: Array(repeating: 1, count: 20))
        let after = syntheticRun(
            "b", provider: "p", scores: Array(repeating: 0, count: 6) + Array(repeating: 1, count: 14))
        let comparison = RunComparison(before, after)
        #expect(comparison.items.map(\.item) == ["i0", "i1", "i2", "i3", "i4", "i5"])
        #expect(comparison.items.allSatisfy { $0.change == "regressed" })
        // b = 0, c = 6, n = 20: d = −0.3, var = (6 − 36/20)/400, interval [−0.500837, −0.099163].
        let aggregate = try #require(comparison.aggregates.first { $0.category == "*" })
        #expect(aggregate.verdict == "regressed" && abs(aggregate.difference! - -0.3) < 1e-12)
        #expect(abs(aggregate.interval!.low - -0.500837) < 1e-5 && abs(aggregate.interval!.high - -0.099163) < 1e-5)
        #expect(comparison.hasRegressions)
    }

    @Test func twoNewFailuresAreAnItemRegressionButNotASignificantOne() throws {
        let before = syntheticRun("a", provider: "old-model", scores: Array(repeating: 1, count: 20))
        let after = syntheticRun(
            "b", provider: "new-model", scores: [0, 0] + Array(repeating: 1, count: 17) + [nil])
        let comparison = RunComparison(before, after)
        // One provider in each run: they are compared whatever their names.
        #expect(comparison.items.filter { $0.change == "regressed" }.count == 2)
        #expect(comparison.items.filter { $0.change == "newly-skipped" }.map(\.item) == ["i19"])
        // 19 pairs, b = 0, c = 2: [−0.243256, 0.032730] contains 0.
        let aggregate = try #require(comparison.aggregates.first { $0.category == "*" })
        #expect(aggregate.pairs == 19 && aggregate.verdict == "unchanged")
        #expect(abs(aggregate.interval!.low - -0.243256) < 1e-5 && abs(aggregate.interval!.high - 0.032730) < 1e-5)
        #expect(aggregate.provider == "old-model→new-model")
    }
}
