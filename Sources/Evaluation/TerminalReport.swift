// Plain-text tables of the reports, for a terminal: fixed-width columns, one row per provider and
// category (summary), per category and provider (crossover), per aggregate (comparison) and per arm
// (canary). No colour codes, so the output can be piped.
import Foundation

/// Text renderings of the reports.
public enum TerminalReport {
    /// Columns padded to their widest cell.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    static func number(_ value: Double?, _ digits: Int = 3) -> String {
        value.map { String(format: "%.\(digits)f", $0) } ?? "-"
    }

    static func interval(_ value: Interval?) -> String {
        value.map { "[\(number($0.low)), \(number($0.high))]" } ?? "-"
    }

    public static func summary(_ run: EvalRun) -> String {
        let rows = run.summaries.map { s in
            [
                s.provider, s.category, "\(s.attempts)", number(s.score), interval(s.interval), s.method,
                "\(s.failures)", "\(s.skippedByPolicy)", "\(number(s.ttftP50, 0))/\(number(s.ttftP95, 0))",
                "\(number(s.totalP50, 0))/\(number(s.totalP95, 0))", "\(s.tokensIn)/\(s.tokensOut)",
                number(Double(s.costMicros) / 1e6, 6),
            ]
        }
        let versions = run.providers.map { provider -> String in
            let seen = Set(run.results.filter { $0.provider == provider.name }.compactMap(\.promptVersion)).sorted()
            let models = Set(run.results.filter { $0.provider == provider.name }.compactMap(\.modelID)).sorted()
            return "\(provider.name): \(provider.residency), model \(models.first ?? provider.model), prompt "
                + (seen.isEmpty ? "-" : seen.joined(separator: ","))
        }
        return versions.joined(separator: "\n") + "\n\n"
            + table(
                [
                    "provider", "category", "n", "score", "95% interval", "method", "failed", "skipped-policy",
                    "ttft p50/p95 ms", "total p50/p95 ms", "tokens in/out", "cost",
                ], rows)
    }

    public static func crossover(_ report: CrossoverReport) -> String {
        var rows: [[String]] = []
        for category in report.categories {
            for entry in category.entries {
                rows.append([
                    category.category, entry.provider, entry.residency, number(entry.score), number(entry.difference),
                    interval(entry.interval), number(entry.mcnemarP), number(entry.costPerItem, 6),
                    entry.excluded ?? (entry.nonInferior ? "yes" : "no"),
                    category.recommended == entry.provider ? "<- route" : "",
                ])
            }
        }
        return "crossover, margin \(report.margin): \(report.rule)\n\n"
            + table(
                [
                    "category", "provider", "residency", "score", "diff", "95% interval", "mcnemar p", "cost/item",
                    "non-inferior", "",
                ], rows)
    }

    public static func comparison(_ comparison: RunComparison) -> String {
        let aggregates = comparison.aggregates.map { a in
            [
                a.provider, a.category, "\(a.pairs)", number(a.before), number(a.after), number(a.difference),
                interval(a.interval), number(a.mcnemarP), a.verdict,
            ]
        }
        let items = comparison.items.map {
            [$0.provider, $0.item, $0.category, number($0.before), number($0.after), $0.change]
        }
        return table(
            ["provider", "category", "pairs", "before", "after", "diff", "95% interval", "mcnemar p", "verdict"],
            aggregates)
            + "\n"
            + (items.isEmpty
                ? "no item changed\n" : table(["provider", "item", "category", "before", "after", "change"], items))
    }

    public static func canary(_ report: CanaryReport) -> String {
        let rows = [report.control, report.canary].map { a in
            [
                a.arm, "\(a.conversations)", "\(a.calls)", number(a.errorRate), interval(a.errorInterval),
                number(a.fallbackRate), "\(a.thumbsUp)/\(a.ratings)", number(a.thumbsUpRate),
                interval(a.thumbsUpInterval),
                "\(number(a.ttftP50, 0))/\(number(a.ttftP95, 0))", "\(number(a.totalP50, 0))/\(number(a.totalP95, 0))",
                number(a.tokensPerReply, 1), number(Double(a.costMicros) / 1e6, 6),
                a.promptVersions.keys.sorted().joined(separator: ","),
            ]
        }
        var text = table(
            [
                "arm", "conversations", "calls", "error rate", "95% interval", "fallback rate", "up/rated", "up rate",
                "95% interval", "ttft p50/p95", "total p50/p95", "tokens/reply", "cost", "prompts",
            ], rows)
        let tone = [report.control, report.canary].map { a in
            [
                a.arm, "\(a.refusals)/\(a.flaggedReplies)", number(a.refusalRate), interval(a.refusalInterval),
                "\(number(a.replyCharsP50, 0))/\(number(a.replyCharsP95, 0))", a.tone?.judge ?? "-",
                a.tone.map { "\($0.judged)" } ?? "-", number(a.tone?.mean), interval(a.tone?.interval),
                a.tone.map { "\($0.skippedTagged)/\($0.skippedByPolicy)/\($0.failed)" } ?? "-",
            ]
        }
        text += "\ntone\n"
        text += table(
            [
                "arm", "refused/replies", "refusal rate", "95% interval", "reply chars p50/p95", "judge", "judged",
                "tone", "95% interval", "skipped tagged/policy/failed",
            ], tone)
        for stop in report.stops { text += "automatic stop: \(stop)\n" }
        return text + "verdict: \(report.verdict) (\(report.reason))\n"
    }
}
