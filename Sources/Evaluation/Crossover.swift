// The crossover report: per category, which providers are not worse than the best by more than a stated
// margin, judged on the same items (paired), and which of those should serve the category.
//
// The rule, stated in every report:
//   - Only providers the policy allowed on every item of the category are candidates (a provider that
//     must not see some of the category's conversations cannot be its route).
//   - The best is the candidate with the highest score. Another candidate is non-inferior when the lower
//     end of the 95% interval of (its score − the best's), paired by item and repetition, is above
//     −margin: a Wald interval of the paired difference of proportions for pass/fail items (with
//     McNemar's exact p-value for equality shown beside it), a paired bootstrap for graded ones.
//   - The recommended route is the most sovereign non-inferior provider (on-prem, then vpc, then
//     external), then the cheapest per item, then the higher score.

/// One provider against the category's best.
public struct CrossoverEntry: Sendable, Codable, Equatable {
    public var provider: String
    public var residency: String
    public var score: Double?
    public var costPerItem: Double
    /// Score minus the best's, paired; nil when not a candidate.
    public var difference: Double?
    public var interval: Interval?
    /// `paired-wald` (pass/fail) or `paired-bootstrap` (graded).
    public var method: String?
    /// McNemar's exact p-value (pass/fail only).
    public var mcnemarP: Double?
    public var nonInferior: Bool
    /// Why the provider is not a candidate (`denied by policy on 3 items`, `no answers`).
    public var excluded: String?
}

/// One category's verdict.
public struct CategoryCrossover: Sendable, Codable, Equatable {
    public var category: String
    public var best: String?
    public var recommended: String?
    public var entries: [CrossoverEntry]
}

/// The crossover report of a run.
public struct CrossoverReport: Sendable, Codable, Equatable {
    public var margin: Double
    public var rule: String
    public var categories: [CategoryCrossover]

    public static let ruleText =
        "non-inferior: lower 95% bound of the paired difference to the best > -margin; route: the most "
        + "sovereign non-inferior provider, then the cheapest, then the best score; only providers the policy "
        + "allowed on every item of the category are candidates"

    /// Computes the report for `run` with a non-inferiority `margin` (a score difference, e.g. 0.05).
    public init(run: EvalRun, margin: Double) {
        self.margin = margin
        rule = Self.ruleText
        categories = (run.categories + [EvalRun.allCategories]).map { category in
            Self.category(category, run: run, margin: margin)
        }
    }

    private static func category(_ category: String, run: EvalRun, margin: Double) -> CategoryCrossover {
        let inCategory = run.results.filter { category == EvalRun.allCategories || $0.category == category }
        var byProvider: [String: [String: ItemResult]] = [:]
        for result in inCategory {
            byProvider[result.provider, default: [:]]["\(result.item)#\(result.repetition)"] = result
        }
        let summaries = Dictionary(
            uniqueKeysWithValues: run.providers.map { provider in
                (
                    provider.name,
                    CategorySummary(
                        provider: provider.name, category: category,
                        results: inCategory.filter { $0.provider == provider.name })
                )
            })
        var entries = run.providers.map { provider -> CrossoverEntry in
            let summary = summaries[provider.name]!
            var excluded: String?
            if summary.skippedByPolicy > 0 {
                excluded = "denied by policy on \(summary.skippedByPolicy) item(s)"
            } else if summary.attempts == 0 {
                excluded = "no answers"
            }
            return CrossoverEntry(
                provider: provider.name, residency: provider.residency, score: summary.score,
                costPerItem: summary.costPerItem, nonInferior: false, excluded: excluded)
        }
        let candidates = entries.filter { $0.excluded == nil }
        guard let best = candidates.max(by: { ($0.score ?? 0) < ($1.score ?? 0) }) else {
            return CategoryCrossover(category: category, best: nil, recommended: nil, entries: entries)
        }
        let reference = byProvider[best.provider] ?? [:]
        for index in entries.indices where entries[index].excluded == nil {
            let mine = byProvider[entries[index].provider] ?? [:]
            let keys = mine.keys.filter { reference[$0] != nil }.sorted()
            let pairs = keys.map { (mine[$0]!, reference[$0]!) }
            let other = pairs.map { $0.0.score ?? 0 }
            let base = pairs.map { $0.1.score ?? 0 }
            let graded = pairs.contains { $0.0.graded } || (other + base).contains { $0 != 0 && $0 != 1 }
            if graded {
                entries[index].interval = Statistics.pairedBootstrap(
                    other: other, reference: base, weights: pairs.map { $0.0.weight })
                entries[index].method = "paired-bootstrap"
                entries[index].difference = Statistics.mean(
                    zip(other, base).map { $0 - $1 }, weights: pairs.map { $0.0.weight })
            } else {
                let b = zip(other, base).filter { $0 == 1 && $1 == 0 }.count
                let c = zip(other, base).filter { $0 == 0 && $1 == 1 }.count
                entries[index].interval = Statistics.pairedDifference(b: b, c: c, n: pairs.count)
                entries[index].method = "paired-wald"
                entries[index].mcnemarP = Statistics.mcnemarExact(b: b, c: c)
                entries[index].difference = pairs.isEmpty ? nil : Double(b - c) / Double(pairs.count)
            }
            let isBest = entries[index].provider == best.provider
            entries[index].nonInferior = isBest || (entries[index].interval.map { $0.low > -margin } ?? false)
        }
        let rank = Dictionary(uniqueKeysWithValues: run.providers.map { ($0.name, $0.residencyRank) })
        let recommended = entries.filter(\.nonInferior).min { a, b in
            (rank[a.provider]!, a.costPerItem, -(a.score ?? 0)) < (rank[b.provider]!, b.costPerItem, -(b.score ?? 0))
        }
        return CategoryCrossover(
            category: category, best: best.provider, recommended: recommended?.provider, entries: entries)
    }
}
