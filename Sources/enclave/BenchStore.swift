// `enclave bench store`: what sealing costs. The same workload runs in the same run against the Store and
// against a plain SQLite table of the benchmark's own (BenchStoreBaseline.swift: the same connection
// settings, columns, indexes and group commit, nothing sealed), the same rows written in the same way.
// Which store goes first alternates round by round for appends and pass by pass for history reads;
// CPU time is the process's (CLOCK_PROCESS_CPUTIME_ID) around each variant's share. The command prints
// each round's figures and ratios, then the median ratio and its spread (the spread shows how much
// other load on the machine moved the figures).
//
// History reads are measured twice: as the server makes them (bodies the Store wrote or opened before
// come from its memo of authenticated bodies, OpenedBodies.swift), and cold (the memo emptied before
// each pass, so every body is authenticated and decrypted).
//
// Also the hidden `enclave bench store-probe`, the child process the crash test kills.
import ArgumentParser
import EnclaveCrypto
import Foundation
import Storage

struct BenchStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Appends/s and history reads/s, the sealed Store against a plain SQLite table.")

    @Option(help: "Messages appended per run.")
    var appends: Int = 4000

    @Option(help: "Concurrent appending tasks (group commit shares one fsync between them).")
    var writers: Int = 16

    @Option(help: "Conversations the messages are spread over.")
    var conversations: Int = 32

    @Option(help: "Bytes per message body.")
    var bodyBytes: Int = 400

    @Option(help: "Messages per history read (the newest ones).")
    var historyLength: Int = 50

    @Option(help: "Passes of history reads over every conversation per run.")
    var readPasses: Int = 200

    // Nine, not five: one round's append ratio moves ±15% with how group commits happen to batch, and
    // five-run medians on a quiet machine still spread 7-16%; nine-run medians spread 3-12%.
    @Option(help: "Runs per variant (the two variants alternate); the median ratio is reported.")
    var runs: Int = 9

    @Option(help: "Directory for the temporary databases (default: the system temporary directory).")
    var directory: String?

    func validate() throws {
        guard appends > 0, writers > 0, conversations > 0, bodyBytes > 0, runs > 0, historyLength > 0, readPasses > 0
        else {
            throw ValidationError("every count must be positive")
        }
    }

    func run() async throws {
        let base = URL(fileURLWithPath: directory ?? NSTemporaryDirectory())
            .appendingPathComponent("enclave-bench-\(getpid())")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let ring = try KeyRing(keys: [1: SymmetricKey.random()])
        print(
            "workload: \(appends) appends by \(writers) writers over \(conversations) conversations, "
                + "\(bodyBytes)-byte bodies; \(readPasses) passes of history reads of \(historyLength) messages; "
                + "synchronous=FULL, group commit; \(runs) alternating runs")
        var rounds: [(plain: Rates, sealed: Rates)] = []
        for round in 0..<runs {
            // Index 0 is the plaintext store, 1 the sealed one; which goes first alternates by round.
            let file = { (name: String) in base.appendingPathComponent("\(name)-\(round).sqlite").path }
            let store = try Store(path: file("sealed"), keyRing: ring)
            let stores: [any BenchedStore] = [try PlainStore(path: file("plain"), messagesLike: store.path), store]
            var ids: [[ConversationID]] = [[], []]
            var rates = [Rates(), Rates()]
            for index in Self.order(round) {
                (ids[index], rates[index]) = try await appendWorkload(stores[index])
            }
            // Reads then find both files in the same state: a WAL that one store happened to checkpoint
            // more recently than the other makes its page lookups cheaper and would skew the ratio.
            for store in stores { try await store.checkpoint() }
            try await readWorkload(stores, ids: ids, into: &rates)
            let plain = rates[0], sealed = rates[1]
            rounds.append((plain, sealed))
            print("run \(round + 1):")
            report("appends/s", plain.appends, sealed.appends)
            report("history reads/s", plain.reads, sealed.reads)
            report("reads/cpu-s", plain.readsPerCPUSecond, sealed.readsPerCPUSecond)
            report("cold reads/s", plain.coldReads, sealed.coldReads)
            report("cold reads/cpu-s", plain.coldReadsPerCPUSecond, sealed.coldReadsPerCPUSecond)
        }
        print("over \(runs) runs, sealed/plaintext median [min, max]:")
        summarize("appends/s", rounds.map { $0.sealed.appends / $0.plain.appends })
        summarize("appends/cpu-s", rounds.map { $0.sealed.appendsPerCPUSecond / $0.plain.appendsPerCPUSecond })
        summarize("history reads/s", rounds.map { $0.sealed.reads / $0.plain.reads })
        summarize("reads/cpu-s", rounds.map { $0.sealed.readsPerCPUSecond / $0.plain.readsPerCPUSecond })
        summarize("cold reads/s", rounds.map { $0.sealed.coldReads / $0.plain.coldReads })
        summarize(
            "cold reads/cpu-s", rounds.map { $0.sealed.coldReadsPerCPUSecond / $0.plain.coldReadsPerCPUSecond })
    }

    private func report(_ name: String, _ plain: Double, _ sealed: Double) {
        let label = name.padding(toLength: 16, withPad: " ", startingAt: 0)
        print(
            String(
                format: "  %@ plaintext %9.0f   sealed %9.0f   sealed/plaintext %.3f (cost %.1f%%)", label, plain,
                sealed, sealed / plain, 100 * (1 - sealed / plain)))
    }

    private func summarize(_ name: String, _ ratios: [Double]) {
        let sorted = ratios.sorted()
        let median =
            sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let label = name.padding(toLength: 16, withPad: " ", startingAt: 0)
        print(
            String(
                format: "  %@ %.3f [%.3f, %.3f]  (cost %.1f%%)", label, median, sorted.first!, sorted.last!,
                100 * (1 - median)))
    }

    /// Throughput of one run, by wall clock and by this process's CPU time.
    struct Rates {
        var appends = 0.0
        var reads = 0.0
        var appendsPerCPUSecond = 0.0
        var readsPerCPUSecond = 0.0
        var coldReads = 0.0
        var coldReadsPerCPUSecond = 0.0
    }

    /// The variants' indices (0 plaintext, 1 sealed) in the order they run in round or pass `n`: each goes
    /// first half of the time, so neither always finds the caches as the other left them.
    private static func order(_ n: Int) -> [Int] { n % 2 == 0 ? [0, 1] : [1, 0] }

    /// CPU seconds (user plus system, all threads) used by this process so far, to the nanosecond
    /// (CLOCK_PROCESS_CPUTIME_ID; getrusage may count in scheduler ticks, coarse next to one pass).
    private func cpuSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Appends the workload with `writers` concurrent tasks; returns the conversations and the rates.
    private func appendWorkload(_ store: any BenchedStore) async throws -> ([ConversationID], Rates) {
        var ids: [ConversationID] = []
        for index in 0..<conversations {
            ids.append(try await store.createConversation(owner: "bench", title: "t\(index)", tags: []))
        }
        let body = String(repeating: "x", count: bodyBytes)
        let targets = ids, writers = writers
        let perWriter = (appends + writers - 1) / writers
        let startCPU = cpuSeconds()
        let time = try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        // Writer w appends to conversations w, w + writers, w + 2·writers, ... in turn, so
                        // every conversation gets messages even when there are more conversations than writers.
                        for n in 0..<perWriter {
                            let target = targets[(writer + n * writers) % targets.count]
                            _ = try await store.append(NewMessage(role: "user", body: body), to: target)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let appended = Double(perWriter * writers)
        return (
            ids,
            Rates(appends: appended / time.seconds, appendsPerCPUSecond: appended / max(cpuSeconds() - startCPU, 1e-6))
        )
    }

    /// Reads the histories of every conversation (`ids[i]` of `stores[i]`), alternating between the
    /// stores within each pass (and which goes first from pass to pass) so that other load on the machine
    /// falls on both alike: first as the server reads, then cold (the memo of opened bodies emptied before
    /// each pass).
    private func readWorkload(_ stores: [any BenchedStore], ids: [[ConversationID]], into rates: inout [Rates])
        async throws
    {
        let clock = ContinuousClock()
        for cold in [false, true] {
            var time = [Duration.zero, .zero]
            var cpu = [0.0, 0.0]
            for pass in 0..<readPasses {
                for index in Self.order(pass) {
                    let store = stores[index]
                    if cold { await store.forgetOpenedBodies() }
                    let startCPU = cpuSeconds()
                    time[index] += try await clock.measure {
                        for id in ids[index] { _ = try await store.readHistory(id, limit: historyLength) }
                    }
                    cpu[index] += cpuSeconds() - startCPU
                }
            }
            let reads = Double(conversations * readPasses)
            for index in stores.indices {
                if cold {
                    rates[index].coldReads = reads / time[index].seconds
                    rates[index].coldReadsPerCPUSecond = reads / max(cpu[index], 1e-6)
                } else {
                    rates[index].reads = reads / time[index].seconds
                    rates[index].readsPerCPUSecond = reads / max(cpu[index], 1e-6)
                }
            }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The crash test's child: appends forever from four tasks, printing `<conversation> <seq>` after
/// each commit returns. Bodies are `probe <conversation> <seq>` so the test can check them.
struct StoreProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-probe", abstract: "Append until killed (for the storage crash test).", shouldDisplay: false)

    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let (_, store) = try storage.openStore()
        let id = try await store.createConversation(owner: "probe", title: "probe")
        emit("conversation \(id)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while true {
                        let seq = try await store.append(NewMessage(role: "user", body: "probe \(id)"), to: id)
                        emit("\(id) \(seq)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Writes one line straight to the standard output file (no buffer a SIGKILL could lose).
    private func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
