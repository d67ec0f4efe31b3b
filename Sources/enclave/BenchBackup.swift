// `enclave bench backup`: what an online backup costs the people chatting while it runs. A chat server
// with an instant provider (no model time) over real storage and audit in a temporary directory is filled
// with `--messages` sealed messages; then, in one run, clients chat continuously while `enclave backup`
// runs as its own process, back to back (online database backup, audit record and log copy, manifest),
// and for the same length of time without it. Printed: the backup's duration, and the p99 latency of the messages
// sent while it ran against the p99 of the same load without it, as a ratio; rounds alternate which
// phase goes first, so drift in the machine's load shows as spread between rounds.
import ArgumentParser
import ChatCore
import ChatServer
import EnclaveClient
import Foundation
import Logging
import ServiceLifecycle
import Storage
import Synchronization

struct BenchBackup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Backup duration and p99 message latency during a backup against without.")

    @Option(help: "Messages stored before measuring.") var messages = 100_000
    @Option(help: "Concurrent chatting clients.") var clients = 20
    @Option(help: "Rounds (each: one phase with backups, one without).") var rounds = 3
    @Option(help: "Seconds each phase lasts at least (backups are repeated back to back to fill it).")
    var seconds = 4.0
    @Option(help: "Where the temporary data directory goes (default: $TMPDIR).") var directory: String?

    func run() async throws {
        let parent = directory.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory
        let root = parent.appendingPathComponent("enclave-bench-backup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let locations = DataLocations(dataDirectory: root.appendingPathComponent("data").path)
        var limits = ChatCore.Configuration()
        limits.budget = .init(messagesPerMinute: 1e9, burst: 1e9, concurrentGenerations: clients)
        let backends = try await ServerAssembly.open(locations, gateway: InstantProvider.gateway())
        let password = try await backends.ensureUser(name: "bench", role: .staff)
        let filled = ContinuousClock.now
        try await Self.fill(backends.store, messages: messages)
        print(String(format: "filled %d messages in %.1f s", messages, (ContinuousClock.now - filled).seconds))
        var configuration = ServerConfiguration()
        configuration.port = 0
        var logger = Logger(label: "enclave.bench")
        logger.logLevel = .warning
        let server = try await ChatServer(
            configuration: configuration, core: try backends.core(configuration: limits),
            version: EnclaveVersion.current, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            let load = Load(port: server.port, password: password, clients: clients)
            var ratios: [Double] = []
            for round in 0..<rounds {
                var backup: Phase?
                var baseline: Phase?
                var durations: [Double] = []
                for withBackup in round % 2 == 0 ? [true, false] : [false, true] {
                    if withBackup {
                        backup = try await load.measure {
                            let phase = ContinuousClock.now
                            while (ContinuousClock.now - phase).seconds < seconds {
                                let started = ContinuousClock.now
                                let destination = root.appendingPathComponent("backup-\(round)-\(durations.count)").path
                                try await Self.backup(into: destination, dataDirectory: locations.dataDirectory)
                                durations.append((ContinuousClock.now - started).seconds)
                                try? FileManager.default.removeItem(atPath: destination)
                            }
                        }
                    } else {
                        let length = backup?.seconds ?? seconds
                        baseline = try await load.measure { try await Task.sleep(for: .seconds(length)) }
                    }
                }
                durations.sort()
                guard let backup, let baseline else { continue }
                let ratio = backup.p99 / max(baseline.p99, 1e-9)
                ratios.append(ratio)
                print(
                    String(
                        format: "round %d: %d backups of %d messages back to back, each %.2f s (median; %.2f-%.2f); "
                            + "p99 during them %.1f ms (%d messages) vs %.1f ms without (%d messages): ratio %.2f; "
                            + "p50 %.1f vs %.1f ms",
                        round + 1, durations.count, messages, durations[durations.count / 2], durations.first ?? 0,
                        durations.last ?? 0, backup.p99, backup.count, baseline.p99, baseline.count, ratio, backup.p50,
                        baseline.p50))
            }
            let sorted = ratios.sorted()
            if let low = sorted.first, let high = sorted.last {
                print(
                    String(
                        format: "p99 during backup / p99 without: median %.2f (rounds %.2f-%.2f)",
                        sorted[sorted.count / 2], low, high))
            }
            await group.triggerGracefulShutdown()
            await backends.close()
            try await tasks.waitForAll()
        }
    }

    /// Runs `enclave backup DEST --data-dir D` as its own process, as an operator would beside the server.
    static func backup(into destination: String, dataDirectory: String) async throws {
        let status = try await LineClient.onThread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = ["backup", destination, "--data-dir", dataDirectory]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        guard status == 0 else { throw CLIError("enclave backup exited with status \(status)") }
    }

    /// Stores `messages` sealed messages in conversations of 100, from 64 concurrent writers (group commit).
    static func fill(_ store: Store, messages: Int) async throws {
        let body = String(repeating: "a routine message of about two hundred bytes, ", count: 4)
        let conversations = max(1, messages / 100)
        var created: [ConversationID] = []
        for index in 0..<conversations {
            created.append(try await store.createConversation(owner: "bench", title: "c\(index)"))
        }
        let ids = created
        try await withThrowingTaskGroup { group in
            for writer in 0..<64 {
                group.addTask {
                    var n = writer
                    while n < messages {
                        _ = try await store.append(NewMessage(role: "user", body: body), to: ids[n % ids.count])
                        n += 64
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// What one phase measured: latencies (ms) of the messages sent while `action` ran, and its length.
    struct Phase {
        var seconds: Double
        var latencies: [Double]
        var count: Int { latencies.count }
        var p99: Double { ServerBenchmark.percentile(latencies, 0.99) }
        var p50: Double { ServerBenchmark.percentile(latencies, 0.50) }
    }

    /// The clients' shared state: the stop flag and every (send time, latency in ms).
    final class Samples: Sendable {
        let stop = Atomic<Bool>(false)
        let ready = Atomic<Int>(0)
        let list = Mutex<[(sent: ContinuousClock.Instant, ms: Double)]>([])
    }

    /// Clients that chat until told to stop, each noting when every message was sent and how long it took.
    struct Load: Sendable {
        let port: Int
        let password: String
        let clients: Int

        /// Starts the clients, waits until each has logged in and had a reply (then a quarter second more),
        /// runs `action`, and keeps the messages sent while it ran.
        func measure(_ action: () async throws -> Void) async throws -> Phase {
            let samples = Samples()
            return try await withThrowingTaskGroup { group in
                for _ in 0..<clients {
                    group.addTask { [port, password] in
                        try await LineClient.onThread {
                            let client = try LineClient(port: port, timeout: .seconds(120))
                            _ = try client.final("/login bench \(password)")
                            var index = 0
                            while !samples.stop.load(ordering: .relaxed) {
                                index += 1
                                let sent = ContinuousClock.now
                                guard try client.final("message \(index) of the load").hasPrefix("OK") else { continue }
                                let took = (ContinuousClock.now - sent).seconds * 1000
                                if index == 1 { samples.ready.add(1, ordering: .relaxed) }
                                samples.list.withLock { $0.append((sent, took)) }
                            }
                            _ = try client.final("/quit")
                        }
                    }
                }
                while samples.ready.load(ordering: .relaxed) < clients { try await Task.sleep(for: .milliseconds(20)) }
                try await Task.sleep(for: .milliseconds(250))
                let start = ContinuousClock.now
                try await action()
                let end = ContinuousClock.now
                samples.stop.store(true, ordering: .relaxed)
                try await group.waitForAll()
                let inside = samples.list.withLock { all in all.filter { $0.sent >= start && $0.sent <= end }.map(\.ms)
                }
                return Phase(seconds: (end - start).seconds, latencies: inside.sorted())
            }
        }
    }
}
