// The offline HTML report of a run: one file with its styles, SVG charts and a small script inline, no
// network fetches. Charts: score against cost per provider (with 95% intervals), latency distributions
// (every scored item's total latency, with p50 and p95 marked), and scores per category and provider.
// Then the crossover table and the per-category summary. The script only adds hover highlights; it marks
// the page `data-script="ok"` when it ran to its end, which the browser test checks.
import Foundation

/// Renders a run and its crossover report as HTML.
public enum HTMLReport {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]

    public static func render(run: EvalRun, crossover: CrossoverReport) -> String {
        let summaries = run.summaries
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>Enclave eval: \(escape(run.suite))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
            table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}
            th{background:#f3f3f3}.yes{color:#2a7d2a;font-weight:600}.no{color:#999}
            svg{background:#fff;border:1px solid #ddd;margin:8px 0}.hl{stroke:#000;stroke-width:2}
            .note{color:#555;font-size:13px}
            </style></head><body>
            <h1>Evaluation of <code>\(escape(run.suite))</code></h1>
            <p class="note">Run \(escape(run.id)), \(run.results.count) results, \(run.repetitions) repetition(s), \
            providers: \(run.providers.map { escape("\($0.name) (\($0.residency), \($0.model))") }.joined(separator: ", ")).</p>

            """
        html += "<h2>Score against cost</h2>\n" + scoreCostChart(run: run, summaries: summaries)
        html += "<h2>Latency (total, scored items)</h2>\n" + latencyChart(run: run)
        html += "<h2>Scores per category</h2>\n" + categoryChart(run: run, summaries: summaries)
        html += crossoverTable(crossover)
        html += summaryTable(summaries)
        html += """
            <script>
            (function(){
              document.querySelectorAll('[data-provider]').forEach(function(el){
                el.addEventListener('mouseenter',function(){
                  document.querySelectorAll('[data-provider="'+el.dataset.provider+'"]').forEach(function(o){o.classList.add('hl')});
                });
                el.addEventListener('mouseleave',function(){
                  document.querySelectorAll('.hl').forEach(function(o){o.classList.remove('hl')});
                });
              });
              document.body.setAttribute('data-script','ok');
            })();
            </script>
            </body></html>

            """
        return html
    }

    // MARK: Charts

    private static func color(_ run: EvalRun, _ provider: String) -> String {
        palette[(run.providers.firstIndex { $0.name == provider } ?? 0) % palette.count]
    }

    private static func scoreCostChart(run: EvalRun, summaries: [CategorySummary]) -> String {
        let (width, height, left, bottom) = (640.0, 360.0, 60.0, 40.0)
        let overall = summaries.filter { $0.category == EvalRun.allCategories }
        let maxCost = max(overall.map(\.costPerItem).max() ?? 0, 1e-9)
        var svg = axes(
            width: width, height: height, left: left, bottom: bottom, xLabel: "cost per item", yLabel: "score")
        for (index, summary) in overall.enumerated() {
            guard let score = summary.score else { continue }
            let x = left + 20 + (width - left - 60) * summary.costPerItem / maxCost
            let y = yPosition(score, height: height, bottom: bottom)
            let colour = color(run, summary.provider)
            if let interval = summary.interval {
                svg += line(
                    x, yPosition(interval.low, height: height, bottom: bottom), x,
                    yPosition(interval.high, height: height, bottom: bottom), colour)
            }
            svg += """
                <circle cx="\(fmt(x))" cy="\(fmt(y))" r="6" fill="\(colour)" data-provider="\(escape(summary.provider))">\
                <title>\(escape(summary.provider)): score \(fmt(score)), cost \(fmt(summary.costPerItem))</title></circle>
                <text x="\(fmt(x + 9))" y="\(fmt(y - 6 - Double(index % 2) * 12))" font-size="12">\(escape(summary.provider))</text>

                """
        }
        svg +=
            "<text x=\"\(fmt(width - 10))\" y=\"\(fmt(height - 8))\" font-size=\"11\" text-anchor=\"end\">"
            + "max \(fmt(maxCost))</text>"
        return wrap(svg, width: width, height: height, label: "score-cost")
    }

    private static func latencyChart(run: EvalRun) -> String {
        let rowHeight = 40.0
        let (width, left) = (640.0, 120.0)
        let height = 40 + rowHeight * Double(run.providers.count)
        let latencies = run.providers.map { provider in
            run.results.filter { $0.provider == provider.name && $0.outcome == .scored }.compactMap(\.totalMs).sorted()
        }
        let maxMs = max(latencies.compactMap(\.last).max() ?? 1, 1)
        var svg =
            "<line x1=\"\(fmt(left))\" y1=\"\(fmt(height - 24))\" x2=\"\(fmt(width - 10))\" "
            + "y2=\"\(fmt(height - 24))\" stroke=\"#333\"/>\n"
            + "<text x=\"\(fmt(width - 10))\" y=\"\(fmt(height - 6))\" font-size=\"11\" text-anchor=\"end\">"
            + "\(fmt(maxMs)) ms</text>\n"
        for (row, provider) in run.providers.enumerated() {
            let y = 20 + rowHeight * Double(row) + rowHeight / 2
            let colour = color(run, provider.name)
            let scale = { (ms: Double) in left + (width - left - 10) * ms / maxMs }
            svg += "<text x=\"8\" y=\"\(fmt(y + 4))\" font-size=\"12\">\(escape(provider.name))</text>\n"
            for (index, ms) in latencies[row].enumerated() {
                let jitter = Double(index % 5) * 3 - 6
                svg +=
                    "<circle cx=\"\(fmt(scale(ms)))\" cy=\"\(fmt(y + jitter))\" r=\"2.5\" fill=\"\(colour)\" "
                    + "fill-opacity=\"0.6\" data-provider=\"\(escape(provider.name))\"/>\n"
            }
            if !latencies[row].isEmpty {
                for (p, mark) in [(0.5, "p50"), (0.95, "p95")] {
                    let x = scale(Statistics.quantile(sorted: latencies[row], p))
                    svg += line(x, y - 12, x, y + 12, "#000")
                    svg +=
                        "<text x=\"\(fmt(x))\" y=\"\(fmt(y - 14))\" font-size=\"10\" text-anchor=\"middle\">\(mark)</text>\n"
                }
            }
        }
        return wrap(svg, width: width, height: height, label: "latency")
    }

    private static func categoryChart(run: EvalRun, summaries: [CategorySummary]) -> String {
        let (width, height, left, bottom) = (760.0, 360.0, 60.0, 60.0)
        let groups = run.categories
        let groupWidth = (width - left - 20) / Double(max(groups.count, 1))
        let barWidth = groupWidth * 0.8 / Double(max(run.providers.count, 1))
        var svg = axes(width: width, height: height, left: left, bottom: bottom, xLabel: "", yLabel: "score")
        for (g, category) in groups.enumerated() {
            let x0 = left + groupWidth * Double(g) + groupWidth * 0.1
            svg +=
                "<text x=\"\(fmt(x0 + groupWidth * 0.4))\" y=\"\(fmt(height - bottom + 16))\" font-size=\"12\" "
                + "text-anchor=\"middle\">\(escape(category))</text>\n"
            for (p, provider) in run.providers.enumerated() {
                guard let summary = summaries.first(where: { $0.provider == provider.name && $0.category == category }),
                    let score = summary.score
                else { continue }
                let x = x0 + barWidth * Double(p)
                let y = yPosition(score, height: height, bottom: bottom)
                let colour = color(run, provider.name)
                svg +=
                    "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(barWidth - 2))\" "
                    + "height=\"\(fmt(height - bottom - y))\" fill=\"\(colour)\" data-provider=\"\(escape(provider.name))\">"
                    + "<title>\(escape(provider.name)) / \(escape(category)): \(fmt(score))</title></rect>\n"
                if let interval = summary.interval {
                    let middle = x + (barWidth - 2) / 2
                    svg += line(
                        middle, yPosition(interval.low, height: height, bottom: bottom), middle,
                        yPosition(interval.high, height: height, bottom: bottom), "#333")
                }
            }
        }
        for (p, provider) in run.providers.enumerated() {
            let x = left + Double(p) * 130
            svg +=
                "<rect x=\"\(fmt(x))\" y=\"\(fmt(height - 22))\" width=\"10\" height=\"10\" fill=\"\(color(run, provider.name))\"/>"
                + "<text x=\"\(fmt(x + 14))\" y=\"\(fmt(height - 13))\" font-size=\"12\">\(escape(provider.name))</text>\n"
        }
        return wrap(svg, width: width, height: height, label: "categories")
    }

    private static func axes(
        width: Double, height: Double, left: Double, bottom: Double, xLabel: String, yLabel: String
    )
        -> String
    {
        var svg =
            line(left, 10, left, height - bottom, "#333")
            + line(left, height - bottom, width - 10, height - bottom, "#333")
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            let y = yPosition(tick, height: height, bottom: bottom)
            svg +=
                "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y + 4))\" font-size=\"11\" text-anchor=\"end\">\(fmt(tick))</text>\n"
            svg +=
                "<line x1=\"\(fmt(left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(width - 10))\" y2=\"\(fmt(y))\" stroke=\"#eee\"/>\n"
        }
        svg +=
            "<text x=\"14\" y=\"\(fmt(height / 2))\" font-size=\"12\" transform=\"rotate(-90 14 \(fmt(height / 2)))\">"
            + "\(yLabel)</text>\n"
        svg += "<text x=\"\(fmt((width + left) / 2))\" y=\"\(fmt(height - 8))\" font-size=\"12\">\(xLabel)</text>\n"
        return svg
    }

    private static func yPosition(_ score: Double, height: Double, bottom: Double) -> Double {
        10 + (height - bottom - 10) * (1 - score)
    }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ colour: String) -> String {
        "<line x1=\"\(fmt(x1))\" y1=\"\(fmt(y1))\" x2=\"\(fmt(x2))\" y2=\"\(fmt(y2))\" stroke=\"\(colour)\"/>\n"
    }

    private static func wrap(_ body: String, width: Double, height: Double, label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"\(label)\" width=\"\(fmt(width))\" "
            + "height=\"\(fmt(height))\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\">\n\(body)</svg>\n"
    }

    // MARK: Tables

    private static func crossoverTable(_ report: CrossoverReport) -> String {
        var html = "<h2>Crossover (margin \(fmt(report.margin)))</h2>\n<p class=\"note\">\(escape(report.rule))</p>\n"
        html +=
            "<table><tr><th>category</th><th>provider</th><th>score</th><th>diff to best</th><th>95% interval</th>"
            + "<th>McNemar p</th><th>cost/item</th><th>non-inferior</th><th>route</th></tr>\n"
        for category in report.categories {
            for entry in category.entries {
                let route = category.recommended == entry.provider ? "<b>recommended</b>" : ""
                let verdict =
                    entry.excluded.map { "<span class=\"no\">\(escape($0))</span>" }
                    ?? (entry.nonInferior ? "<span class=\"yes\">yes</span>" : "<span class=\"no\">no</span>")
                html +=
                    "<tr><td>\(escape(category.category))</td><td>\(escape(entry.provider))</td>"
                    + "<td>\(entry.score.map(fmt) ?? "-")</td><td>\(entry.difference.map(fmt) ?? "-")</td>"
                    + "<td>\(entry.interval.map { "[\(fmt($0.low)), \(fmt($0.high))]" } ?? "-")</td>"
                    + "<td>\(entry.mcnemarP.map(fmt) ?? "-")</td><td>\(fmt(entry.costPerItem))</td>"
                    + "<td>\(verdict)</td><td>\(route)</td></tr>\n"
            }
        }
        return html + "</table>\n"
    }

    private static func summaryTable(_ summaries: [CategorySummary]) -> String {
        var html =
            "<h2>Summary</h2>\n<table><tr><th>provider</th><th>category</th><th>n</th><th>score</th>"
            + "<th>95% interval</th><th>failures</th><th>skipped by policy</th><th>TTFT p50/p95 ms</th>"
            + "<th>total p50/p95 ms</th><th>tokens in/out</th><th>cost</th></tr>\n"
        for s in summaries {
            html +=
                "<tr><td>\(escape(s.provider))</td><td>\(escape(s.category))</td><td>\(s.attempts)</td>"
                + "<td>\(s.score.map(fmt) ?? "-")</td>"
                + "<td>\(s.interval.map { "[\(fmt($0.low)), \(fmt($0.high))] \(s.method)" } ?? "-")</td>"
                + "<td>\(s.failures)</td><td>\(s.skippedByPolicy)</td>"
                + "<td>\(s.ttftP50.map(fmt) ?? "-") / \(s.ttftP95.map(fmt) ?? "-")</td>"
                + "<td>\(s.totalP50.map(fmt) ?? "-") / \(s.totalP95.map(fmt) ?? "-")</td>"
                + "<td>\(s.tokensIn) / \(s.tokensOut)</td><td>\(fmt(Double(s.costMicros) / 1e6))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    static func fmt(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e9 { return String(Int(value)) }
        return String(format: abs(value) >= 100 ? "%.0f" : (abs(value) >= 1 ? "%.2f" : "%.4f"), value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
