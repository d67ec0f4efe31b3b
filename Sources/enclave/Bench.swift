// `enclave bench ...`: the benchmarks behind each speed target. Each subcommand lives in its own
// file (BenchStore.swift, BenchPolicy.swift, ...) and prints its figures against a named baseline
// measured in the same run.
import ArgumentParser

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure parts of Enclave against their baselines.",
        subcommands: [
            BenchModel.self, BenchStore.self, StoreProbe.self, BenchPolicy.self, BenchAudit.self, BenchRouter.self,
            BenchServer.self, BenchBackup.self,
        ]
    )
}
