// `enclave bench server`: Enclave's own overhead per message. Starts a chat server on a free
// loopback port over the production path, as `serve` builds it for one provider (ProviderGateway: the
// router and the executor) with an instant provider (no model time), over the real storage, policy and
// audit in a temporary data directory, drives it with concurrent clients, and reports messages/s, latency
// percentiles and the memory each held connection costs, beside two baselines from the same run: a
// bare protocol round trip (`/whoami`, after each message) and one durable write (append + fdatasync) in
// the data directory. `overhead_p99_ms` is the messages' p99 beyond the bare round trip's.
import ArgumentParser
import ChatCore
import ChatServer
import Foundation
import Logging
import Routing
import ServiceLifecycle
import Storage

struct BenchServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Messages/s and p99 through the whole server path with an instant provider.")

    @Option(help: "Concurrent clients.") var clients = 20
    @Option(help: "Messages per client.") var messages = 50
    @Option(help: "Idle connections to hold for the memory figure.") var held = 1000
    @Option(help: "Messages each client sends first, uncounted (the process's first pages, caches and threads).")
    var warmup = 20
    @Option(
        help: ArgumentHelp(
            "Where the temporary data directory goes (default: the temporary directory, $TMPDIR).",
            discussion: "Compare a disk with tmpfs (e.g. /dev/shm) to see how much of the latency is fsync."))
    var directory: String?
    @Flag(help: "Record metrics into the Prometheus registry, as `serve` does (compare runs with and without).")
    var metrics = false

    func run() async throws {
        if metrics { _ = ServeMetrics.bootstrap(version: EnclaveVersion.current) }
        let parent = directory.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory
        let directory = parent.appendingPathComponent("enclave-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var limits = ChatCore.Configuration()
        limits.budget = .init(messagesPerMinute: 1e9, burst: 1e9, concurrentGenerations: clients)
        let backends = try await ServerAssembly.open(
            DataLocations(dataDirectory: directory.path), gateway: InstantProvider.gateway())
        let password = try await backends.ensureUser(name: "bench", role: .staff)
        let core = try backends.core(configuration: limits)
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.maxConnectionsPerAddress = held + clients + 10
        configuration.maxConnections = held + clients + 10
        var logger = Logger(label: "enclave.bench")
        logger.logLevel = .warning
        let server = try await ChatServer(
            configuration: configuration, core: core, version: EnclaveVersion.current, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            var report = try await ServerBenchmark.run(
                port: server.port, user: "bench", password: password, clients: clients, messages: messages, held: held,
                warmup: warmup)
            report.sync = try ServerBenchmark.syncFloor(directory: directory.path)
            print(report, "directory=\(parent.path)")
            await group.triggerGracefulShutdown()
            await backends.close()
            try await tasks.waitForAll()
        }
    }
}
