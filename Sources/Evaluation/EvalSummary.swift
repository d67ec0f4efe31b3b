// Aggregates of a run per provider and category: the score with its 95% interval (Wilson when every item
// is pass/fail with equal weights, else a percentile bootstrap of the weighted mean), latency quantiles,
// tokens, cost and the counts of failures and policy skips. Repetitions of an item count as separate
// observations of it. The category `*` is the whole suite.

/// One provider in one category.
public struct CategorySummary: Sendable, Codable, Equatable {
    public var provider: String
    public var category: String
    /// Attempts that were sent (scored or failed); skipped ones are not.
    public var attempts: Int
    public var scored: Int
    public var failures: Int
    public var skippedByPolicy: Int
    /// Pass count for pass/fail scoring (nil when graded).
    public var passes: Int?
    /// Weighted mean score over the attempts sent (a failure scores 0); nil when none was sent.
    public var score: Double?
    public var interval: Interval?
    /// `wilson` or `bootstrap`.
    public var method: String
    public var ttftP50: Double?
    public var ttftP95: Double?
    public var totalP50: Double?
    public var totalP95: Double?
    public var tokensIn: Int
    public var tokensOut: Int
    public var costMicros: Int
    /// Mean cost of one attempt, in the pricing currency.
    public var costPerItem: Double
}

extension CategorySummary {
    /// Summarises `results` (one provider, one category or all of them).
    public init(provider: String, category: String, results: [ItemResult]) {
        let sent = results.filter { $0.outcome != .skippedByPolicy }
        let scores = sent.map { $0.score ?? 0 }
        let weights = sent.map(\.weight)
        let binary =
            !sent.contains { $0.graded } && scores.allSatisfy { $0 == 0 || $0 == 1 }
            && Set(weights).count <= 1
        let passes = scores.filter { $0 == 1 }.count
        self.provider = provider
        self.category = category
        attempts = sent.count
        scored = sent.filter { $0.outcome == .scored }.count
        failures = sent.filter { $0.outcome == .failed }.count
        skippedByPolicy = results.count - sent.count
        self.passes = binary ? passes : nil
        score = sent.isEmpty ? nil : Statistics.mean(scores, weights: weights)
        method = binary ? "wilson" : "bootstrap"
        if sent.isEmpty {
            interval = nil
        } else if binary {
            interval = Statistics.wilson(successes: passes, trials: sent.count)
        } else {
            interval = Statistics.bootstrap(scores, weights: weights)
        }
        let ttft = sent.compactMap(\.ttftMs).sorted()
        let total = sent.filter { $0.outcome == .scored }.compactMap(\.totalMs).sorted()
        ttftP50 = ttft.isEmpty ? nil : Statistics.quantile(sorted: ttft, 0.5)
        ttftP95 = ttft.isEmpty ? nil : Statistics.quantile(sorted: ttft, 0.95)
        totalP50 = total.isEmpty ? nil : Statistics.quantile(sorted: total, 0.5)
        totalP95 = total.isEmpty ? nil : Statistics.quantile(sorted: total, 0.95)
        tokensIn = sent.compactMap(\.tokensIn).reduce(0, +)
        tokensOut = sent.compactMap(\.tokensOut).reduce(0, +)
        costMicros = sent.compactMap(\.costMicros).reduce(0, +)
        costPerItem = sent.isEmpty ? 0 : Double(costMicros) / 1e6 / Double(sent.count)
    }
}

extension EvalRun {
    /// The whole suite's category name in summaries.
    public static let allCategories = "*"

    /// Every provider × (each category, then `*`).
    public var summaries: [CategorySummary] {
        providers.flatMap { provider in
            let mine = results.filter { $0.provider == provider.name }
            return (categories + [Self.allCategories]).map { category in
                CategorySummary(
                    provider: provider.name, category: category,
                    results: category == Self.allCategories ? mine : mine.filter { $0.category == category })
            }
        }
    }
}
