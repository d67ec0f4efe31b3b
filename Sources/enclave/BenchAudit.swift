// `enclave bench audit`: how fast the audit log appends and verifies. Durability is the same in every
// append figure: `append` returns only after write + fsync of its record. Three ways of calling it:
//   1. one writer, one record per fsync (the worst case: a quiet server);
//   2. many concurrent writers, group commit (records that arrive during an fsync share the next one);
//   3. batches (`append(contentsOf:)`, one fsync per batch).
// Then verification of the whole log, with the MAC key (full) and with only the public key (offline).
import ArgumentParser
import Audit
import EnclaveCrypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct BenchAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Audit records appended/s (fsync per record, group commit, batches) and verified/s.")

    @Option(help: "Records appended by the single writer (one fsync each).")
    var sequential: Int = 1000

    @Option(help: "Records appended by the concurrent writers.")
    var concurrent: Int = 20000

    @Option(help: "Concurrent writers for the group-commit figure.")
    var writers: Int = 64

    @Option(help: "Records appended in batches of --batch.")
    var batched: Int = 100_000

    @Option(help: "Batch size.")
    var batch: Int = 1000

    @Option(help: "Directory for the temporary log (default: the system temporary directory).")
    var directory: String?

    func validate() throws {
        guard sequential > 0, concurrent > 0, writers > 0, batched > 0, batch > 0 else {
            throw ValidationError("every count must be positive")
        }
    }

    func run() async throws {
        let base = (directory ?? NSTemporaryDirectory()) + "/enclave-bench-audit-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let keys = try AuditRootKey.loadOrCreate(
            directory: base, masterKeys: [1: SymmetricKey.random()], latestVersion: 1)
        let signer = keys.signer
        let log = try await AuditLog(directory: base, macKey: keys.mac, signer: signer)
        print("durability: append returns after write + fsync of its record (checkpoint every 1000 records)")

        let single = try await measure(sequential) {
            for index in 0..<sequential { _ = try await log.append(Self.event(index)) }
        }
        print(line("append, 1 writer, fsync per record", sequential, single))

        let perWriter = max(1, concurrent / writers)
        let grouped = try await measure(perWriter * writers) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for index in 0..<perWriter { _ = try await log.append(Self.event(writer * perWriter + index)) }
                    }
                }
                try await group.waitForAll()
            }
        }
        print(line("append, \(writers) writers, group commit", perWriter * writers, grouped))

        let batches = max(1, batched / batch)
        let inBatches = try await measure(batches * batch) {
            for round in 0..<batches {
                _ = try await log.append(contentsOf: (0..<batch).map { Self.event(round * batch + $0) })
            }
        }
        print(line("append, batches of \(batch), one fsync per batch", batches * batch, inBatches))
        try await log.close()

        let total = Int(log.count)
        let full = try await measure(total) {
            let report = try AuditVerifier.verify(directory: base, macKey: keys.mac, publicKey: signer.publicKey)
            guard report.isValid else { throw CLIError("verify failed: \(report.failure!)") }
        }
        print(line("verify with MAC key (full)", total, full))
        let offline = try await measure(total) {
            let report = try AuditVerifier.verify(directory: base, macKey: nil, publicKey: signer.publicKey)
            guard report.isValid else { throw CLIError("verify failed: \(report.failure!)") }
        }
        print(line("verify with public key only (offline)", total, offline))
    }

    /// Wall-clock and process CPU seconds of `body` (CPU time shows the cost apart from fsync waits and
    /// from other processes competing for the cores).
    private func measure(_ count: Int, _ body: () async throws -> Void) async throws -> (wall: Double, cpu: Double) {
        let clock = ContinuousClock()
        let cpuStart = Self.cpuSeconds()
        let start = clock.now
        try await body()
        let elapsed = clock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (wall, Self.cpuSeconds() - cpuStart)
    }

    private static func cpuSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    private func line(_ label: String, _ count: Int, _ time: (wall: Double, cpu: Double)) -> String {
        let rate = Double(count) / max(time.wall, 1e-9)
        return label.padding(toLength: 50, withPad: " ", startingAt: 0)
            + "\(count) records in \(String(format: "%.2f", time.wall)) s = \(Int(rate)) records/s"
            + " (cpu \(String(format: "%.2f", time.cpu)) s)"
    }

    /// A model-call record shaped like the server's (no content; fixed-size fields).
    static func event(_ index: Int) -> AuditEvent {
        AuditEvent(
            actor: "user\(index % 50)", role: "staff", origin: "10.0.\(index % 200).\(index % 250)",
            action: AuditAction.modelCall, subject: "c\(index % 1000)",
            call: ModelCallFields(
                modelID: "SmolLM2-135M-Instruct-Q4_1", promptVersion: "default.v1", provider: "local",
                residency: "on-prem", canaryArm: index % 10 == 0 ? "canary" : "control", decision: "allowed",
                rule: "default-on-prem", tags: index % 3 == 0 ? ["finance"] : [], detectorCounts: ["iban": index % 2],
                tokensIn: 200 + index % 300, tokensOut: 50 + index % 100, ttftMs: 80, totalMs: 900,
                costMicros: 0))
    }
}
