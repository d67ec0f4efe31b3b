// `enclave eval bench`: Enclave's own overhead per gold item, beyond the provider's time. An instant
// in-process provider (it answers at once) serves synthetic items through the whole eval path (a real
// sealed Store and audit log in a temporary data directory, the shipped policies, ChatCore's send, the
// scorer); the baseline is the same provider called directly, in the same run, in the same way.
//
// The headline is the overhead per item when items run as `enclave eval run` runs them: concurrently, up
// to the provider's limit (`--concurrency`, the same default as `eval run`'s). The sequential figure (one
// item at a time: the latency one item adds) is printed beside it. Every round measures baseline and eval
// in both modes, alternating, so machine noise hits all four; the figures are medians over rounds with
// their spread, as milliseconds and as a ratio against the baseline. The time of one durable write on the data
// directory's disk, measured in the same run, shows how much of the figure is the durability the design
// requires (each item waits for its stored messages and audit records to reach the disk).
import ArgumentParser
import ChatCore
import Evaluation
import Foundation
import Inference
import Policy
import Routing

struct EvalBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure Enclave's overhead per gold item against an instant provider.")

    @Option(help: "Items per round and mode.") var items = 200
    @Option(help: "Rounds (each: baseline and eval, sequential and concurrent).") var rounds = 5
    @Option(help: "Items in flight at once per provider, as `eval run --concurrency` (same default).")
    var concurrency = EvalOptions.defaultConcurrency
    @Option(help: "Policy directory (default ./policies).") var policies = "policies"

    func validate() throws {
        guard items >= 1, rounds >= 1, concurrency >= 1 else {
            throw ValidationError("--items, --rounds and --concurrency must be at least 1")
        }
    }

    func run() async throws {
        let provider = InstantProvider()
        let gateway = InstantProvider.gateway()
        let directory = NSTemporaryDirectory() + "enclave-eval-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let backends = try await ServerAssembly.open(
            DataLocations(dataDirectory: directory, policies: policies), gateway: gateway)
        let suite = GoldSuite(
            name: "bench",
            items: (0..<items).map {
                GoldItem(
                    id: "b\($0)", category: "arithmetic", message: "What is 40 + 2?",
                    scorer: .number(value: 42, tolerance: 0))
            })
        let load = Self.loadAverage()
        let sync = try ServerBenchmark.syncFloor(directory: directory, count: 50)
        print(
            "\(items) items per round and mode, \(rounds) rounds, concurrency \(concurrency); load average \(load); "
                + "one durable write (append + fdatasync) on the data directory's disk: p50 \(ms(sync.p50Ms)) ms, "
                + "p99 \(ms(sync.p99Ms)) ms")
        var sequential = ModeFigures()
        var concurrent = ModeFigures()
        for round in 1...rounds {
            for (limit, mode) in [(1, "sequential"), (concurrency, "concurrent")] {
                let direct = try await Self.timed { try await Self.direct(provider, items: items, concurrency: limit) }
                var run: EvalRun?
                let eval = try await Self.timed {
                    run = await EvalRunner(
                        store: backends.store, policy: backends.policy, gateway: gateway, audit: backends.audit,
                        options: EvalOptions(providers: [provider.info.name], concurrency: limit)
                    ).run(suite)
                }
                try Self.check(run, items: items)
                let figures = (direct: direct / Double(items), eval: eval / Double(items))
                if limit == 1 { sequential.add(figures) } else { concurrent.add(figures) }
                print(
                    "round \(round) \(mode): direct \(ms(figures.direct, 4)) ms/item, through Enclave "
                        + "\(ms(figures.eval)) ms/item, overhead \(ms(figures.eval - figures.direct)) ms")
            }
        }
        await backends.close()
        print(concurrent.line("concurrent, as `eval run` (\(concurrency) in flight)"))
        print(sequential.line("sequential (one item at a time)"))
        let headline = concurrent.overhead.median
        print(
            "target, overhead under 5 ms per item with items concurrent: \(headline < 5 ? "met" : "NOT met") "
                + "(\(ms(headline)) ms); load average at the end \(Self.loadAverage())")
    }

    /// Refuses a run in which any item did not score 1: a misconfigured run (no policies, a refused
    /// provider) would otherwise look fast.
    static func check(_ run: EvalRun?, items: Int) throws {
        let good = run?.results.filter { $0.outcome == .scored && $0.score == 1 }.count ?? 0
        guard good == items else {
            let codes = Set(run?.results.compactMap(\.errorCode) ?? []).sorted().joined(separator: ", ")
            throw ValidationError("only \(good) of \(items) items scored through Enclave (errors: \(codes))")
        }
    }

    /// Streams `items` requests straight from `provider`, at most `concurrency` at a time (the baseline).
    static func direct(_ provider: InstantProvider, items: Int, concurrency: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<items {
                if index >= concurrency { try await group.next() }
                group.addTask {
                    for try await _ in provider.stream(
                        ChatRequest(messages: [ChatTurn(role: .user, content: "x")], maxTokens: 8))
                    {}
                }
            }
            try await group.waitForAll()
        }
    }

    static func timed(_ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        return (ContinuousClock.now - start).seconds * 1000
    }

    /// The 1, 5 and 15 minute load averages, as /proc/loadavg has them ("?" where there is none).
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?"
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}

/// Median and range of some measurements.
struct Spread {
    var median: Double
    var low: Double
    var high: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        low = sorted.first ?? 0
        high = sorted.last ?? 0
    }

    /// "low-high" in milliseconds.
    var range: String { "\(ms(low))-\(ms(high))" }
}

/// `value` milliseconds with `digits` decimals.
private func ms(_ value: Double, _ digits: Int = 3) -> String {
    String(format: "%.\(digits)f", value)
}

/// One mode's per-item times over the rounds.
struct ModeFigures {
    var direct: [Double] = []
    var eval: [Double] = []

    mutating func add(_ figures: (direct: Double, eval: Double)) {
        direct.append(figures.direct)
        eval.append(figures.eval)
    }

    /// Enclave's overhead per item in each round (eval minus baseline of the same round).
    var overhead: Spread { Spread(zip(eval, direct).map { $0 - $1 }) }

    /// The summary line: overhead median and spread, and the ratio of the medians.
    func line(_ label: String) -> String {
        let (base, through) = (Spread(direct).median, Spread(eval).median)
        return "\(label): overhead per item median \(ms(overhead.median)) ms (rounds \(overhead.range)); direct "
            + "\(ms(base, 4)) ms, through Enclave \(ms(through)) ms (ratio \(ms(through / max(base, 1e-6), 0))x)"
    }
}
