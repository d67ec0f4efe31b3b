// `enclave eval compare RUN_A RUN_B`: what got worse (or better) between two runs of the same suite, say
// before and after a new model or a new prompt version. Providers are matched by name; when each run has
// exactly one provider, those two are compared whatever their names (a model swap). Item by item, the
// mean score over repetitions in A and in B; in aggregate, per provider and category, the paired
// difference B − A with its 95% interval (paired Wald for pass/fail, paired bootstrap for graded), and a
// verdict: `regressed` when the whole interval is below 0, `improved` when above, else `unchanged`.

/// One item whose score changed.
public struct ItemChange: Sendable, Codable, Equatable {
    public var provider: String
    public var item: String
    public var category: String
    public var before: Double?
    public var after: Double?
    /// `regressed`, `improved`, `newly-skipped`, `no-longer-skipped`.
    public var change: String
}

/// One provider and category, before and after.
public struct AggregateChange: Sendable, Codable, Equatable {
    public var provider: String
    public var category: String
    public var pairs: Int
    public var before: Double?
    public var after: Double?
    public var difference: Double?
    public var interval: Interval?
    public var mcnemarP: Double?
    public var verdict: String
}

/// The comparison of two runs.
public struct RunComparison: Sendable, Codable, Equatable {
    public var runA: String
    public var runB: String
    public var items: [ItemChange]
    public var aggregates: [AggregateChange]

    public init(_ a: EvalRun, _ b: EvalRun) {
        runA = a.id
        runB = b.id
        var pairsOfProviders = a.providers.map(\.name).filter { name in b.providers.contains { $0.name == name } }
            .map { ($0, $0) }
        if pairsOfProviders.isEmpty, a.providers.count == 1, b.providers.count == 1 {
            pairsOfProviders = [(a.providers[0].name, b.providers[0].name)]
        }
        var items: [ItemChange] = []
        var aggregates: [AggregateChange] = []
        for (nameA, nameB) in pairsOfProviders {
            let before = Self.meanScores(a.results.filter { $0.provider == nameA })
            let after = Self.meanScores(b.results.filter { $0.provider == nameB })
            let label = nameA == nameB ? nameA : "\(nameA)→\(nameB)"
            var paired: [(String, Double, Double, Double)] = []  // category, before, after, weight
            for (key, old) in before.sorted(by: { $0.key < $1.key }) {
                guard let new = after[key] else { continue }
                switch (old.score, new.score) {
                case (let x?, let y?):
                    paired.append((old.category, x, y, old.weight))
                    if y < x - 1e-12 || y > x + 1e-12 {
                        items.append(
                            ItemChange(
                                provider: label, item: key, category: old.category, before: x, after: y,
                                change: y < x ? "regressed" : "improved"))
                    }
                case (_?, nil):
                    items.append(
                        ItemChange(
                            provider: label, item: key, category: old.category, before: old.score, after: nil,
                            change: "newly-skipped"))
                case (nil, _?):
                    items.append(
                        ItemChange(
                            provider: label, item: key, category: old.category, before: nil, after: new.score,
                            change: "no-longer-skipped"))
                case (nil, nil):
                    break
                }
            }
            let categories = b.categories.filter { category in paired.contains { $0.0 == category } }
            for category in categories + [EvalRun.allCategories] {
                let chosen = paired.filter { category == EvalRun.allCategories || $0.0 == category }
                aggregates.append(Self.aggregate(label, category, chosen.map { ($0.1, $0.2, $0.3) }))
            }
        }
        self.items = items
        self.aggregates = aggregates
    }

    private struct Mean {
        var category: String
        var weight: Double
        /// nil when every repetition was skipped by policy.
        var score: Double?
    }

    /// Mean score per item over its repetitions (failures score 0; skipped ones are left out).
    private static func meanScores(_ results: [ItemResult]) -> [String: Mean] {
        Dictionary(grouping: results, by: \.item).mapValues { group in
            let sent = group.filter { $0.outcome != .skippedByPolicy }
            let score = sent.isEmpty ? nil : sent.map { $0.score ?? 0 }.reduce(0, +) / Double(sent.count)
            return Mean(category: group[0].category, weight: group[0].weight, score: score)
        }
    }

    private static func aggregate(_ provider: String, _ category: String, _ pairs: [(Double, Double, Double)])
        -> AggregateChange
    {
        var change = AggregateChange(
            provider: provider, category: category, pairs: pairs.count, verdict: "unchanged")
        guard !pairs.isEmpty else { return change }
        let weights = pairs.map(\.2)
        change.before = Statistics.mean(pairs.map(\.0), weights: weights)
        change.after = Statistics.mean(pairs.map(\.1), weights: weights)
        change.difference = change.after! - change.before!
        let binary = pairs.allSatisfy { [0, 1].contains($0.0) && [0, 1].contains($0.1) } && Set(weights).count == 1
        if binary {
            let b = pairs.filter { $0.1 == 1 && $0.0 == 0 }.count
            let c = pairs.filter { $0.1 == 0 && $0.0 == 1 }.count
            change.interval = Statistics.pairedDifference(b: b, c: c, n: pairs.count)
            change.mcnemarP = Statistics.mcnemarExact(b: b, c: c)
        } else {
            change.interval = Statistics.pairedBootstrap(
                other: pairs.map(\.1), reference: pairs.map(\.0), weights: weights)
        }
        if let interval = change.interval {
            if interval.high < 0 {
                change.verdict = "regressed"
            } else if interval.low > 0 {
                change.verdict = "improved"
            }
        }
        return change
    }

    /// Whether anything regressed, item by item or in aggregate (the command's exit status).
    public var hasRegressions: Bool {
        items.contains { $0.change == "regressed" } || aggregates.contains { $0.verdict == "regressed" }
    }
}
