// `enclave bench server` on a tiny workload: every counted message and its `/whoami` answered OK, the
// warm-up left out of the count, the held connections held, the figures consistent with each other, and
// the temporary data directory gone afterwards. How fast is the benchmark's business, not the test's.
import Foundation
import Testing

@Suite struct BenchServerTests {
    @Test func theClientsAreAnsweredAndTheFiguresHangTogether() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-bench-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let result = try EnclaveBinary.run([
            "bench", "server", "--clients", "2", "--messages", "15", "--warmup", "3", "--held", "4",
            "--directory", directory.path,
        ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").last { $0.hasPrefix("messages=") })
        var figures: [String: Double] = [:]
        for word in line.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { figures[String(parts[0])] = value }
        }
        #expect(figures["messages"] == 30 && figures["failures"] == 0 && figures["warmup"] == 3, "\(line)")
        #expect(figures["held_connections"] == 4, "\(line)")
        let p50 = try #require(figures["p50_ms"])
        let p99 = try #require(figures["p99_ms"])
        let bareP99 = try #require(figures["bare_p99_ms"])
        #expect(p50 > 0 && p99 >= p50 && (figures["max_ms"] ?? 0) >= p99, "\(line)")
        #expect((figures["bare_p50_ms"] ?? 0) > 0 && bareP99 >= (figures["bare_p50_ms"] ?? 0), "\(line)")
        #expect(abs((figures["overhead_p99_ms"] ?? .nan) - (p99 - bareP99)) < 0.002, "\(line)")
        #expect((figures["sync_p99_ms"] ?? 0) > 0 && (figures["cpu_ms_per_message"] ?? 0) > 0, "\(line)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
