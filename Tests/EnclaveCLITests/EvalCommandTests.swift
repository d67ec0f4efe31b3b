// `enclave eval` as an analyst runs it: the bank sample suite against the shipped SmolLM2 model (scores are
// low and that is the honest result), the run file, a comparison of a run with itself, and a broken gold
// file rejected with its file:line.
import Foundation
import Testing

@Suite struct EvalCommandTests {
    @Test func theBankSampleRunsAgainstTheShippedModelAndComparesCleanlyWithItself() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-eval-cli-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let runFile = directory.appendingPathComponent("run.json").path
        let result = try EnclaveBinary.run([
            "eval", "run", "eval/bank", "--providers", "local", "--temporary", "--max-tokens", "12", "--out", runFile,
            "--html", directory.appendingPathComponent("report.html").path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("crossover"))
        let data = try #require(FileManager.default.contents(atPath: runFile))
        let run = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let results = try #require(run["results"] as? [[String: Any]])
        // 12 items, one provider, one repetition; the local provider is on-prem, so nothing is skipped.
        #expect(results.count == 12)
        #expect(results.allSatisfy { ["scored", "failed"].contains($0["outcome"] as? String) })
        #expect(results.filter { $0["outcome"] as? String == "scored" }.count >= 10)
        // The run file holds no item or reply text.
        #expect(!String(decoding: data, as: UTF8.self).contains("Nordlicht"))

        let same = try EnclaveBinary.run(["eval", "compare", runFile, runFile])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout.contains("no item changed"))
    }

    @Test func aBrokenGoldFileIsRejectedWithItsLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-eval-bad-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.jsonl").path
        try "{\"id\": \"a\", \"category\": \"c\", \"input\": \"x\", \"scorer\": \"exact\"}\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        let result = try EnclaveBinary.run(["eval", "run", file, "--providers", "local", "--temporary"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("gold-invalid") && result.stderr.contains("bad.jsonl:1: missing 'expected'"))
    }
}
