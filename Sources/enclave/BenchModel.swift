// `enclave bench model`: prompt-processing and generation speed in tokens/s, defined as llama-bench
// defines pp<N> (one batch of N prompt tokens from an empty cache) and tg<N> (N tokens decoded one at a
// time from an empty cache). Random token ids; the mean of the repetitions after one warm-up.
import ArgumentParser
import Foundation
import Inference

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Model pp/tg tokens per second.")
    @Argument(help: "The GGUF file.") var file: String
    @Option(name: .short, help: "Prompt tokens (pp).") var p = 512
    @Option(name: .short, help: "Generated tokens (tg).") var n = 128
    @Option(name: .short, help: "Threads.") var t = 2
    @Option(name: .short, help: "Repetitions.") var r = 3

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
        } catch {
            throw ValidationError("\(error)")
        }
    }

    private func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
    private func deviation(_ x: [Double]) -> Double {
        let m = mean(x)
        return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, x.count - 1))).squareRoot()
    }
}
