// `enclave bench ...`: the benchmarks behind each speed target. Each subcommand lives in its own
// file (BenchStore.swift, BenchPolicy.swift, ...) and prints its figures against a named baseline
// measured in the same run.
import ArgumentParser
import ChatCore
import Policy
import Routing

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure parts of Enclave against their baselines.",
        subcommands: [
            BenchModel.self, BenchStore.self, StoreProbe.self, BenchPolicy.self, BenchAudit.self, BenchRouter.self,
            BenchServer.self, BenchBackup.self,
        ]
    )
}

/// A provider that answers "42" at once: the stand-in of `bench server` and `eval bench` for a provider
/// that takes no time.
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

    /// The production gateway (ProviderGateway) over one instant provider: what `bench server`, `bench
    /// backup` and `eval bench` put behind Enclave to measure Enclave alone.
    static func gateway() -> ProviderGateway {
        let provider = InstantProvider()
        return ProviderGateway(
            providers: [provider], defaultProvider: provider.info.name, systemPrompt: "Answer.",
            promptVersion: "bench.v1")
    }
}
