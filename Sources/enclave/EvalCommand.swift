// `enclave eval run|report|compare|bench`: benchmark the configured providers on the organisation's own
// gold sets (eval/), through the same detectors, policy, router and audit log as live traffic, and find
// per category the cheapest, most sovereign provider that is not worse than the best.
import ArgumentParser
import Audit
import ChatCore
import Evaluation
import Foundation
import Inference
import Routing
import Storage

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Benchmark providers on your own gold sets; crossover and regression reports.",
        subcommands: [EvalRunCommand.self, EvalReportCommand.self, EvalCompareCommand.self, EvalBenchCommand.self]
    )
}

/// Report options shared by `run` and `report`.
struct EvalReportOptions: ParsableArguments {
    @Option(help: "Non-inferiority margin: a provider within this score of the best qualifies (default 0.05).")
    var margin = 0.05
    @Option(help: "Also write the offline HTML report to this file.") var html: String?
    @Flag(help: "Print the crossover report as JSON instead of tables.") var json = false

    /// Prints the summary and crossover of `run` and writes the HTML report when asked.
    func emit(_ run: EvalRun) throws {
        let crossover = CrossoverReport(run: run, margin: margin)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(crossover), as: UTF8.self))
        } else {
            print(TerminalReport.summary(run))
            print(TerminalReport.crossover(crossover))
        }
        if let html {
            try HTMLReport.render(run: run, crossover: crossover).write(toFile: html, atomically: true, encoding: .utf8)
            FileHandle.standardError.write(Data("wrote \(html)\n".utf8))
        }
    }
}

struct EvalRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a gold suite (a .jsonl file or a directory of them) against providers.",
        discussion: """
            Every item is sent as a new conversation of the eval user (--user) through the detectors, the policy, \
            the router and the audit log of the data directory. An item the policy denies to a provider is \
            never sent there and is reported as skipped by policy. Results go to a JSON run file.
            """)

    @Argument(help: "The gold suite: a .jsonl file or a directory of .jsonl files.") var suite: String
    @Option(help: "Providers to benchmark, comma-separated (names from the configuration).") var providers: String
    @Option(name: .customLong("repeat"), help: "Times each item is sent to each provider.") var repetitions = 1
    @Option(help: "Items in flight at once per provider.") var concurrency = EvalOptions.defaultConcurrency
    @Option(help: "The provider that rates rubric items (policy-gated and audited like any call).") var judge: String?
    @OptionGroup var options: ConfigOptions
    @Flag(help: "Use a fresh temporary data directory (its store and audit log are deleted afterwards).")
    var temporary = false
    @Option(help: "Policy directory (default: as `serve`: $ENCLAVE_POLICIES, server.policies, ./policies).")
    var policies: String?
    @Option(help: "Model file of the default local provider (as `serve --model`).") var model: String?
    @Option(help: "The eval user's name (its conversations and audit records carry it).") var user = "eval"
    @Option(help: "The eval user's groups, comma-separated (policy defaults and rules may use them).")
    var groups: String?
    @Option(help: "Maximum tokens of one reply.") var maxTokens = 256
    @Option(help: "Write the run file here (default eval-runs/<suite>-<time>.json).") var out: String?
    @OptionGroup var report: EvalReportOptions

    func validate() throws {
        guard repetitions >= 1, concurrency >= 1, maxTokens >= 1 else {
            throw ValidationError("--repeat, --concurrency and --max-tokens must be at least 1")
        }
    }

    func run() async throws {
        let suite: GoldSuite
        do {
            suite = try GoldSuiteLoader.load(path: self.suite)
        } catch {
            throw ValidationError("\(error.code): \(error)")
        }
        let names = providers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var flags = options.flags
        flags.policies = policies
        flags.model = model
        let settings = try Settings.resolve(flags)
        let (gateway, prices, registry) = try await EvalGateway.open(
            settings: settings, required: names + [judge].compactMap { $0 })
        var locations = settings.locations
        if temporary {
            locations = DataLocations(
                dataDirectory: NSTemporaryDirectory() + "enclave-eval-\(UUID().uuidString)",
                policies: locations.policies)
        }
        let directory = locations.dataDirectory
        defer { if temporary { try? FileManager.default.removeItem(atPath: directory) } }
        let backends = try await ServerAssembly.open(locations, gateway: gateway)
        let principal = Principal(
            name: user, role: .staff, groups: groups?.split(separator: ",").map(String.init) ?? [])
        let runner = EvalRunner(
            store: backends.store, policy: backends.policy, gateway: gateway, audit: backends.audit,
            options: EvalOptions(
                providers: names, repetitions: repetitions, concurrency: concurrency, judge: judge, user: principal,
                maxTokens: maxTokens))
        let progress = EvalProgressLine(enabled: isatty(STDERR_FILENO) == 1)
        let result = await runner.run(suite, prices: prices) { progress.show($0) }
        progress.finish()
        await backends.close()
        await registry.shutdown()

        let path = out ?? "eval-runs/\(suite.name)-\(Self.stamp()).json"
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try result.encoded().write(to: URL(fileURLWithPath: path))
        try report.emit(result)
        FileHandle.standardError.write(Data("run file: \(path)\n".utf8))
    }

    static func stamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: Date())
    }
}

/// One status line on a terminal, rewritten as items finish (nothing when not a terminal).
final class EvalProgressLine: Sendable {
    let enabled: Bool

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: EvalProgress) {
        guard enabled else { return }
        let last = progress.last
        let line = "\r\(progress.done)/\(progress.total) \(last.provider) \(last.item) \(last.outcome.rawValue)"
        FileHandle.standardError.write(Data((line.padding(toLength: 78, withPad: " ", startingAt: 0)).utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

struct EvalReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Print the summary and crossover of a run file; write its HTML report.")

    @Argument(help: "A run file from `enclave eval run`.") var runFile: String
    @OptionGroup var report: EvalReportOptions

    func run() throws {
        try report.emit(try EvalRun.read(path: runFile))
    }
}

struct EvalCompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Regressions between two runs, item by item and in aggregate. Exit 1 if anything regressed.")

    @Argument(help: "The earlier run file.") var runA: String
    @Argument(help: "The later run file.") var runB: String
    @Flag(help: "Print JSON instead of tables.") var json = false

    func run() throws {
        let comparison = RunComparison(try EvalRun.read(path: runA), try EvalRun.read(path: runB))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(comparison), as: UTF8.self))
        } else {
            print(TerminalReport.comparison(comparison), terminator: "")
        }
        if comparison.hasRegressions { throw ExitCode(1) }
    }
}

/// The gateway an eval run uses: the configured providers, with the circuit breakers switched off (a run
/// measures every provider on every item; skipping one after a failure would hide its real error rate) and
/// no canary.
enum EvalGateway {
    static func open(settings: Settings, required: [String]) async throws
        -> (ProviderGateway, [String: (input: Double, output: Double)], ProviderRegistry)
    {
        let path = settings.file?.value ?? "the built-in configuration"
        guard var configuration = ServeRouting.configuration(settings) else {
            throw ValidationError("eval needs a configuration with providers (--config, or deploy/enclave.yaml)")
        }
        // A run measures providers, not the experiment: with a canary configured, the router would refuse
        // an explicit choice of the canary provider for a conversation outside the canary's eligibility.
        configuration.canary = nil
        let prompts: PromptLibrary
        do {
            prompts = try PromptLibrary(directory: settings.prompts.value, selection: configuration.prompts)
        } catch {
            throw ValidationError("\(error)")
        }
        let known = Set(configuration.providers.map(\.name))
        if let unknown = required.first(where: { !known.contains($0) }) {
            throw ValidationError(
                "no provider '\(unknown)' in \(path) (known: \(known.sorted().joined(separator: ", ")))")
        }
        // Each local provider is served by the engine of its own model file, as `serve` does it.
        let registry = try await LocalModel.registry(configuration, settings: settings.engine)
        let health = ProviderHealth(settings: .init(base: .zero, maximum: .zero, threshold: Int.max))
        let prices = Dictionary(
            uniqueKeysWithValues: configuration.providers.map {
                ($0.name, (input: $0.pricing.inputPerMillion, output: $0.pricing.outputPerMillion))
            })
        return (ProviderGateway(registry: registry, prompts: prompts, health: health), prices, registry)
    }
}
