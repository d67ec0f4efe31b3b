// The HTML report opened in headless Chromium (Debian's `chromium`, installed by `make test` through
// deploy/install-deps.sh): its script runs to the end without errors, its three charts render with their
// marks, and a screenshot is taken. Without Chromium the test is skipped with a message, except where it
// must run (`make test` sets ENCLAVE_TEST_DEPS=1; CI sets CI), where a missing browser fails it.
import EnclaveTestSupport
import Evaluation
import Foundation
import Testing

@Suite struct HTMLReportTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static var required: Bool { TestSetUp.required }

    /// A run of three providers over two categories with latencies, costs and one graded category.
    static func sampleRun() -> EvalRun {
        let providers = [
            ProviderMeta(name: "local", residency: "on-prem", model: "smol", inputPerMillion: 0, outputPerMillion: 0),
            ProviderMeta(
                name: "vpc-llm", residency: "vpc", model: "llama", inputPerMillion: 0.1, outputPerMillion: 0.2),
            ProviderMeta(
                name: "external-gpt", residency: "external", model: "gpt", inputPerMillion: 5, outputPerMillion: 15),
        ]
        var results: [ItemResult] = []
        for (p, provider) in providers.enumerated() {
            for index in 0..<20 {
                let category = index < 10 ? "extraction" : "<summaries>"
                var result = ItemResult(
                    item: "i\(index)", category: category, weight: 1, graded: index >= 10, provider: provider.name,
                    repetition: 0, outcome: .scored,
                    score: index >= 10 ? Double((index + p) % 5) / 4 : (index % (p + 2) == 0 ? 0 : 1))
                result.totalMs = Double(50 * (p + 1) + index * 7)
                result.ttftMs = Double(10 * (p + 1) + index)
                result.tokensIn = 30
                result.tokensOut = 12
                result.costMicros = Int(provider.inputPerMillion * 30 + provider.outputPerMillion * 12)
                results.append(result)
            }
        }
        return EvalRun(
            id: "r1", suite: "demo", started: Date(), finished: Date(), repetitions: 1, judge: nil,
            providers: providers,
            categories: ["extraction", "<summaries>"], results: results)
    }

    @Test func theReportOpensInHeadlessChromiumWithoutScriptErrorsAndItsChartsRender() throws {
        guard let chromium = Self.chromium else {
            if Self.required {
                Issue.record("chromium is missing; run `ENCLAVE_TEST_DEPS=1 deploy/install-deps.sh`")
            } else {
                print("HTMLReportTests: skipped, Debian's chromium is not installed (make test installs it)")
            }
            return
        }
        let run = Self.sampleRun()
        let html = HTMLReport.render(run: run, crossover: CrossoverReport(run: run, margin: 0.05))
        // Names are escaped, and nothing is fetched from the network.
        #expect(html.contains("&lt;summaries&gt;") && !html.contains("<summaries>"))
        #expect(!html.contains("http://") || !html.contains("src=\"http"))
        #expect(!html.contains("src=") && !html.contains("href="))

        let directory = NSTemporaryDirectory() + "enclave-html-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let page = directory + "/report.html"
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        let common = [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(directory)/profile",
            "--enable-logging=stderr", "--v=0",
        ]
        let dom = try Self.launch(chromium, common + ["--dump-dom", "file://\(page)"])
        #expect(!dom.errors.contains("Uncaught"), "script errors: \(dom.errors)")
        #expect(dom.output.contains("data-script=\"ok\""))
        // Three charts, each with its marks: points on the score/cost plot (one per provider), points on the
        // latency plot (one per scored result), bars on the category plot (providers × categories).
        for chart in ["score-cost", "latency", "categories"] {
            #expect(dom.output.contains("data-chart=\"\(chart)\""))
        }
        let sections = dom.output.components(separatedBy: "data-chart=")
        #expect(sections.count == 4)
        #expect(sections[1].components(separatedBy: "<circle").count - 1 == 3)
        #expect(sections[2].components(separatedBy: "<circle").count - 1 == 60)
        #expect(sections[3].components(separatedBy: "<rect").count - 1 >= 6)

        let shot = directory + "/report.png"
        _ = try Self.launch(chromium, common + ["--screenshot=\(shot)", "--window-size=1200,1800", "file://\(page)"])
        let png = try #require(FileManager.default.contents(atPath: shot))
        #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        if let keep = ProcessInfo.processInfo.environment["ENCLAVE_KEEP_SCREENSHOT"] {
            try png.write(to: URL(fileURLWithPath: keep))
        }
    }

    /// Runs Chromium (killed after 120 s) and returns its standard output and error.
    static func launch(_ path: String, _ arguments: [String]) throws -> (output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        // The log goes to a file, so a chatty browser cannot block on a full pipe while stdout is read.
        let errorPath = NSTemporaryDirectory() + "chromium-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.run()
        let deadline = DispatchTime.now() + .seconds(120)
        DispatchQueue.global().asyncAfter(deadline: deadline) { if process.isRunning { process.terminate() } }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let err = FileManager.default.contents(atPath: errorPath) ?? Data()
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}
