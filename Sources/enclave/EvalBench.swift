// `enclave eval bench`: Enclave's own overhead per gold item, beyond the provider's time. An instant
// in-process provider (it answers at once) serves synthetic items through the whole eval path (a real
// sealed Store and audit log in a temporary data directory, the shipped policies, ChatCore's send, the
// scorer); the baseline is the same provider called directly, in the same run. Rounds alternate baseline
// and eval so machine noise hits both; the figure is printed as a ratio and as milliseconds per item.
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

    @Option(help: "Items per round.") var items = 200
    @Option(help: "Rounds (each: baseline, then eval).") var rounds = 3
    @Option(help: "Items in flight at once for the throughput round.") var concurrency = 8
    @Option(help: "Policy directory (default ./policies).") var policies = "policies"

    func run() async throws {
        let provider = InstantProvider()
        let gateway = ProviderGateway(
            providers: [provider], defaultProvider: provider.info.name, systemPrompt: "Answer.",
            promptVersion: "bench.v1")
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
        func runner(_ concurrency: Int) -> EvalRunner {
            EvalRunner(
                conversations: StoreAdapter(store: backends.store), policy: backends.policy, gateway: gateway,
                audit: AuditAdapter(log: backends.audit),
                options: EvalOptions(providers: [provider.info.name], concurrency: concurrency))
        }
        var baselines: [Double] = []
        var evals: [Double] = []
        for round in 1...rounds {
            let direct = try await Self.timed {
                for _ in 0..<items {
                    for try await _ in provider.stream(
                        ChatRequest(messages: [ChatTurn(role: .user, content: "x")], maxTokens: 8))
                    {}
                }
            }
            let run = try await Self.timed { _ = await runner(1).run(suite) }
            baselines.append(direct / Double(items))
            evals.append(run / Double(items))
            print(
                String(
                    format: "round %ld: direct %.3f ms/item, through Enclave %.3f ms/item", round,
                    direct / Double(items), run / Double(items)))
        }
        let parallel = try await Self.timed { _ = await runner(concurrency).run(suite) }
        await backends.close()
        let base = baselines.sorted()[baselines.count / 2]
        let eval = evals.sorted()[evals.count / 2]
        print(
            String(
                format: "median per item: direct %.3f ms, through Enclave %.3f ms (ratio %.1fx); overhead %.3f ms "
                    + "(target < 5 ms); spread of eval rounds %.3f-%.3f ms",
                base, eval, eval / max(base, 1e-6), eval - base, evals.min()!, evals.max()!))
        print(
            String(
                format: "throughput at concurrency %ld: %.3f ms/item wall (sequential %.3f)", concurrency,
                parallel / Double(items), eval))
    }

    static func timed(_ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15
    }
}

/// A provider that answers "42" at once: the benchmark's stand-in for a provider that takes no time.
struct InstantProvider: ChatProvider {
    let info = ProviderInfo(name: "instant", residency: .onPrem, region: nil, model: "instant")

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        AsyncThrowingStream { continuation in
            continuation.yield(.text("42"))
            continuation.yield(.usage(tokensIn: 5, tokensOut: 1))
            continuation.finish()
        }
    }

    func health() async -> Bool { true }
}
