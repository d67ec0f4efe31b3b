// `enclave bench server`: Enclave's own overhead. Drives a running ChatServer over loopback with
// concurrent clients sending messages (the caller wires an echo provider, so no model time is
// counted), and measures messages/s and latency percentiles per message (line sent → final line
// read), then the resident memory each idle connection costs. Every client logs in before any sends,
// so the logins' scrypt work (tens of ms of CPU each, by design) is not counted as message latency.
import Foundation
import NIOCore
import NIOPosix

/// Load generation against a chat server on loopback.
public enum ServerBenchmark {
    public struct Report: Sendable, CustomStringConvertible {
        public var messages: Int
        public var seconds: Double
        public var p50Ms: Double
        public var p99Ms: Double
        public var failures: Int
        public var heldConnections: Int
        public var rssBytesPerConnection: Double
        public var p90Ms: Double = 0
        public var maxMs: Double = 0
        /// The p99 of the first and the last tenth of each client's messages: a growing gap means a cost
        /// that grows with the conversation's length.
        public var firstTenthP99Ms: Double = 0
        public var lastTenthP99Ms: Double = 0
        /// Process CPU time (user + system) per message while the clients sent: an upper bound of the
        /// server's, since the clients run in the same process. Under load, latency ≈ clients × this / cores.
        public var cpuMsPerMessage: Double = 0

        public var description: String {
            String(
                format: "messages=%d seconds=%.2f messages_per_s=%.0f p50_ms=%.3f p99_ms=%.3f failures=%d "
                    + "held_connections=%d rss_bytes_per_connection=%.0f p90_ms=%.3f max_ms=%.3f "
                    + "first_tenth_p99_ms=%.3f last_tenth_p99_ms=%.3f cpu_ms_per_message=%.3f",
                messages, seconds, Double(messages) / max(seconds, 1e-9), p50Ms, p99Ms, failures, heldConnections,
                rssBytesPerConnection, p90Ms, maxMs, firstTenthP99Ms, lastTenthP99Ms, cpuMsPerMessage)
        }
    }

    /// Holds every client until all have logged in, and notes the process's CPU time at that moment.
    private actor StartLine {
        private var waiting: [CheckedContinuation<Void, Never>] = []
        private var remaining: Int
        private(set) var cpuSecondsAtStart: Double?

        init(clients: Int) { remaining = clients }

        func arrive() async {
            remaining -= 1
            if remaining <= 0 {
                cpuSecondsAtStart = ServerBenchmark.cpuSeconds()
                for continuation in waiting { continuation.resume() }
                waiting = []
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }
    }

    /// Runs `clients` concurrent sessions of `messages` each, then holds `held` idle connections.
    /// Each client logs in as `user`/`password`.
    public static func run(
        port: Int, user: String, password: String, clients: Int, messages: Int, held: Int
    ) async throws -> Report {
        let startLine = StartLine(clients: clients)
        let clock = Stopwatch()
        let results = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for _ in 0..<clients {
                group.addTask {
                    try await session(
                        port: port, user: user, password: password, messages: messages, startLine: startLine,
                        clock: clock)
                }
            }
            var latencies: [[Double]] = []
            var failures = 0
            for try await (times, failed) in group {
                latencies.append(times)
                failures += failed
            }
            return (latencies, failures)
        }
        let cpu = await startLine.cpuSecondsAtStart.map { cpuSeconds() - $0 } ?? 0
        let seconds = await clock.seconds
        let (perClient, failures) = results
        let latencies = perClient.flatMap { $0 }.sorted()
        let tenth = max(1, messages / 10)
        let first = perClient.flatMap { $0.prefix(tenth) }.sorted()
        let last = perClient.flatMap { $0.suffix(tenth) }.sorted()
        let (connections, perConnection) = try await holdIdle(port: port, count: held)
        return Report(
            messages: latencies.count, seconds: seconds, p50Ms: percentile(latencies, 0.50),
            p99Ms: percentile(latencies, 0.99), failures: failures, heldConnections: connections,
            rssBytesPerConnection: perConnection, p90Ms: percentile(latencies, 0.90), maxMs: latencies.last ?? 0,
            firstTenthP99Ms: percentile(first, 0.99), lastTenthP99Ms: percentile(last, 0.99),
            cpuMsPerMessage: latencies.isEmpty ? 0 : cpu * 1000 / Double(latencies.count))
    }

    /// User plus system CPU time of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
            guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        #else
            guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        #endif
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The time from the first message sent to the last answer read, over all clients.
    private actor Stopwatch {
        private var start: ContinuousClock.Instant?
        private var end: ContinuousClock.Instant?

        func started(_ instant: ContinuousClock.Instant) { start = min(start ?? instant, instant) }
        func ended(_ instant: ContinuousClock.Instant) { end = max(end ?? instant, instant) }

        var seconds: Double {
            guard let start, let end else { return 0 }
            let elapsed = end - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    /// The resident set size of this process, from /proc/self/statm.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private typealias Channel = NIOAsyncChannel<InboundFrame, ByteBuffer>

    private static func connect(port: Int) async throws -> Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(BoundedLineDecoder(limit: LineLimit(1 << 20))))
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
    }

    private static func session(
        port: Int, user: String, password: String, messages: Int, startLine: StartLine, clock: Stopwatch
    ) async throws -> ([Double], Int) {
        let channel: Channel
        do {
            channel = try await connect(port: port)
        } catch {
            await startLine.arrive()
            throw error
        }
        return try await channel.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            func final() async throws -> String? {
                while let frame = try await lines.next() {
                    guard case .line(let buffer) = frame else { return nil }
                    let line = String(decoding: buffer.readableBytesView, as: UTF8.self)
                    if line == "OK" || line.hasPrefix("OK ") || line.hasPrefix("ERR ") { return line }
                }
                return nil
            }
            let loggedIn: Bool
            do {
                try await outbound.write(ByteBuffer(string: "/login \(user) \(password)\n"))
                loggedIn = try await final()?.hasPrefix("OK") == true
            } catch {
                await startLine.arrive()
                throw error
            }
            await startLine.arrive()
            guard loggedIn else { return ([], messages) }
            await clock.started(ContinuousClock.now)
            var times: [Double] = []
            var failures = 0
            for index in 0..<messages {
                let sent = ContinuousClock.now
                try await outbound.write(ByteBuffer(string: "benchmark message number \(index)\n"))
                let answer = try await final()
                let took = ContinuousClock.now - sent
                if answer?.hasPrefix("OK") == true {
                    times.append(Double(took.components.attoseconds) / 1e15 + Double(took.components.seconds) * 1000)
                } else {
                    failures += 1
                }
            }
            await clock.ended(ContinuousClock.now)
            try await outbound.write(ByteBuffer(string: "/quit\n"))
            _ = try await final()
            return (times, failures)
        }
    }

    /// Opens `count` connections that each read the banner and then sit idle; returns how many were
    /// held and the RSS growth per connection (client and server share this process).
    private static func holdIdle(port: Int, count: Int) async throws -> (Int, Double) {
        guard count > 0 else { return (0, 0) }
        let before = residentBytes()
        var channels: [any NIOCore.Channel] = []
        for _ in 0..<count {
            let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            guard let channel = try? await bootstrap.connect(host: "127.0.0.1", port: port).get() else { break }
            channels.append(channel)
        }
        try await Task.sleep(for: .milliseconds(500))
        let after = residentBytes()
        for channel in channels { try? await channel.close() }
        return (channels.count, channels.isEmpty ? 0 : Double(after - before) / Double(channels.count))
    }
}
