// `enclave bench model`: prompt-processing and generation speed in tokens/s, defined as llama-bench
// defines pp<N> (one batch of N prompt tokens from an empty cache) and tg<N> (N tokens decoded one at a
// time from an empty cache). Random token ids; the mean of the repetitions after one warm-up. With
// `--sessions S`, also tg<N>x<S>: S sessions decoding N tokens each, first one session after another
// (the baseline) and then as the engine's scheduler runs them, one batched step per token for all. With
// `--bandwidth`, also the memory read bandwidth and the decoding kernels' streaming rates against it.
import ArgumentParser
import Foundation
import GGUF
import Inference

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Model pp/tg tokens per second.")
    @Argument(help: "The GGUF file.") var file: String
    @Option(name: .short, help: "Prompt tokens (pp).") var p = 512
    @Option(name: .short, help: "Generated tokens (tg).") var n = 128
    @Option(name: .short, help: "Threads.") var t = 2
    @Option(name: .short, help: "Repetitions.") var r = 3
    @Option(help: "Concurrent sessions for the batched decoding figure (0: skip it).") var sessions = 0
    @Flag(help: "Also the memory read bandwidth and, against it, each weight type's decoding kernel and tg.")
    var bandwidth = false

    func run() throws {
        let model = try ModelLoader.model(file, threads: t)
        var generator = SeededGenerator(seed: 1)
        let vocabulary = Int32(model.config.vocabularySize)
        let prompt = (0..<max(p, n)).map { _ in Int32.random(in: 100..<vocabulary, using: &generator) }
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = ContinuousClock.now
            try body()
            return (ContinuousClock.now - start) / .seconds(1)
        }
        do {
            var pp: [Double] = []
            var tg: [Double] = []
            for repetition in 0...r {
                if p > 0 {
                    let cache = model.makeCache(capacity: p)
                    let s = try seconds { _ = try model.evaluate(Array(prompt[..<p]), cache: cache) }
                    if repetition > 0 { pp.append(Double(p) / s) }
                }
                if n > 0 {
                    let cache = model.makeCache(capacity: n)
                    let s = try seconds { for i in 0..<n { _ = try model.evaluate([prompt[i]], cache: cache) } }
                    if repetition > 0 { tg.append(Double(n) / s) }
                }
            }
            let name = URL(fileURLWithPath: file).lastPathComponent
            print("| model | threads | test | t/s |")
            print("| --- | ---: | ---: | ---: |")
            if !pp.isEmpty {
                print(String(format: "| %@ | %d | pp%d | %.2f ± %.2f |", name, t, p, mean(pp), deviation(pp)))
            }
            if !tg.isEmpty {
                print(String(format: "| %@ | %d | tg%d | %.2f ± %.2f |", name, t, n, mean(tg), deviation(tg)))
            }
            if bandwidth { printBandwidth(model, tokensPerSecond: tg.isEmpty ? nil : mean(tg)) }
            if sessions > 0, n > 0 {
                let (alone, batched) = try decodingRates(model, prompt: prompt)
                print(
                    String(
                        format: "| %@ | %d | tg%dx%d one by one | %.2f ± %.2f |", name, t, n, sessions, mean(alone),
                        deviation(alone)))
                print(
                    String(
                        format: "| %@ | %d | tg%dx%d batched | %.2f ± %.2f |", name, t, n, sessions, mean(batched),
                        deviation(batched)))
                print(String(format: "batched / one by one: %.2fx", mean(batched) / mean(alone)))
            }
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Aggregate tokens/s of `sessions` sessions decoding `n` tokens each: one session after another,
    /// then all together in batched steps (each session starting from a different 4-token prompt).
    private func decodingRates(_ model: TransformerModel, prompt: [Int32]) throws -> (
        alone: [Double], batched: [Double]
    ) {
        var alone: [Double] = []
        var batched: [Double] = []
        let total = Double(sessions * n)
        for repetition in 0...r {
            let caches = (0..<sessions).map { _ in model.makeCache(capacity: n + 4) }
            for (s, cache) in caches.enumerated() { _ = try model.evaluate(starter(s, prompt), cache: cache) }
            var start = ContinuousClock.now
            for cache in caches { for i in 0..<n { _ = try model.evaluate([prompt[i]], cache: cache) } }
            if repetition > 0 { alone.append(total / ((ContinuousClock.now - start) / .seconds(1))) }

            let stepped = (0..<sessions).map { _ in model.makeCache(capacity: n + 4) }
            for (s, cache) in stepped.enumerated() { _ = try model.evaluate(starter(s, prompt), cache: cache) }
            start = ContinuousClock.now
            for i in 0..<n { _ = try model.evaluateStep(Array(repeating: prompt[i], count: sessions), caches: stepped) }
            if repetition > 0 { batched.append(total / ((ContinuousClock.now - start) / .seconds(1))) }
        }
        return (alone, batched)
    }

    /// Decoding reads every weight once per token, so its speed is bounded by the memory bandwidth: this
    /// prints the bandwidth measured now, each weight type's one-token product as a share of it, and the
    /// tg figure's effective rate (weights read per token × tokens/s).
    private func printBandwidth(_ model: TransformerModel, tokensPerSecond: Double?) {
        let gb = { (rate: Double) in String(format: "%.2f GB/s", rate / 1e9) }
        let read = KernelBandwidth.memoryRead(threads: t)
        print(
            "memory read, \(t) threads: \(gb(read)) (each type's share: the median of 5 pairs, read and product back to back)"
        )
        let matrices = model.file.tensors.filter { $0.dimensions.count == 2 }
        let quantized: Set<GGMLType> = [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs]
        let types = Set(matrices.map(\.type)).union(quantized).sorted { $0.rawValue < $1.rawValue }
        for type in types where Kernels.supportedWeightTypes.contains(type) {
            let share = KernelBandwidth.share(type: type, threads: t)
            print(
                String(
                    format: "%@ one-token product: %@ (%.0f%% of read; pairs %.0f-%.0f%%)", type.description,
                    gb(share.medianRate), 100 * share.medianShare, 100 * (share.shares.min() ?? 0),
                    100 * (share.shares.max() ?? 0)))
        }
        if let tokensPerSecond {
            // The embedding is read one row per token unless it is also the output matrix.
            let tied = !matrices.contains { $0.name == "output.weight" }
            let perToken = matrices.filter { tied || $0.name != "token_embd.weight" }.reduce(0) { $0 + $1.byteCount }
            let rate = Double(perToken) * tokensPerSecond
            print(String(format: "tg%d weights streamed: %@ (%.0f%% of read)", n, gb(rate), 100 * rate / read))
        }
    }

    private func starter(_ session: Int, _ prompt: [Int32]) -> [Int32] {
        (0..<4).map { prompt[(session * 4 + $0) % prompt.count] }
    }

    private func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
    private func deviation(_ x: [Double]) -> Double {
        let m = mean(x)
        return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, x.count - 1))).squareRoot()
    }
}
