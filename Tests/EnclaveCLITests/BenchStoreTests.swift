// `enclave bench store` on a tiny workload: the Store and its plain SQLite baseline both take the appends
// and serve the reads, every ratio comes out, and the temporary databases are gone afterwards. The figures
// themselves are the benchmark's business, not the test's.
import Foundation
import Testing

@Suite struct BenchStoreTests {
    @Test func bothStoresRunTheWorkloadAndEveryRatioIsPrinted() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-bench-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let result = try EnclaveBinary.run([
            "bench", "store", "--appends", "64", "--writers", "4", "--conversations", "4", "--history-length", "8",
            "--read-passes", "2", "--runs", "2", "--directory", directory.path,
        ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let summary = try #require(lines.firstIndex { $0.hasPrefix("over 2 runs, sealed/plaintext median") })
        let names = [
            "appends/s", "appends/cpu-s", "history reads/s", "reads/cpu-s", "cold reads/s", "cold reads/cpu-s",
        ]
        #expect(lines.count == summary + 1 + names.count, "\(result.stdout)")
        for (name, line) in zip(names, lines.dropFirst(summary + 1)) {
            let words = line.dropFirst(2 + 17).split(separator: " ")
            #expect(line.hasPrefix("  " + name + " "), "\(line)")
            #expect((words.first.flatMap { Double($0) } ?? 0) > 0, "\(line)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
