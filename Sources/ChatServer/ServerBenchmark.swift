// `enclave bench server`: Enclave's own overhead. Drives a running ChatServer over loopback with
// concurrent clients sending messages (the caller wires an echo provider, so no model time is
// counted), and measures messages/s and latency percentiles per message (line sent → final line
// read), then the resident memory each idle connection costs. Every client logs in before any sends,
// so the logins' scrypt work (tens of ms of CPU each, by design) is not counted as message latency.
// Each client is a blocking socket on its own thread (LineClient.swift), as `nc` is.
import Foundation
import NIOCore
import NIOPosix
import Synchronization

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
    /// Holds every client until all have logged in (or failed to), then starts the CPU count.
    /// `@unchecked Sendable`: `remaining` and `cpuAtStart` are guarded by `condition` (the lock).
    private final class StartLine: @unchecked Sendable {
        private let condition = NSCondition()
        private var remaining: Int
        private var cpuAtStart: Double?

        init(clients: Int) { remaining = clients }

        /// Blocks the calling client thread until every client has arrived.
        func arrive() {
            condition.lock()
            defer { condition.unlock() }
            remaining -= 1
            if remaining <= 0 {
                cpuAtStart = ServerBenchmark.cpuSeconds()
                condition.broadcast()
            }
            while remaining > 0 { condition.wait() }
        }

        var cpuSecondsAtStart: Double? {
            condition.lock()
            defer { condition.unlock() }
            return cpuAtStart
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
                    try await onThread {
                        try session(
                            port: port, user: user, password: password, messages: messages, startLine: startLine,
                            clock: clock)
                    }
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
        let cpu = startLine.cpuSecondsAtStart.map { cpuSeconds() - $0 } ?? 0
        let seconds = clock.seconds
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
    private final class Stopwatch: Sendable {
        private let span = Mutex<(start: ContinuousClock.Instant?, end: ContinuousClock.Instant?)>((nil, nil))

        func started(_ instant: ContinuousClock.Instant) {
            span.withLock { $0.start = min($0.start ?? instant, instant) }
        }
        func ended(_ instant: ContinuousClock.Instant) { span.withLock { $0.end = max($0.end ?? instant, instant) } }

        var seconds: Double {
            span.withLock { span in
                guard let start = span.start, let end = span.end else { return 0 }
                let elapsed = end - start
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
        }
    }

    /// Runs blocking `work` on a thread of its own (never on the task pool, which it would starve).
    private static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }.start()
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

    /// One client: log in, wait at the start line, send `messages` lines timing each up to its final
    /// line, then quit. Blocking; runs on a thread of its own.
    private static func session(
        port: Int, user: String, password: String, messages: Int, startLine: StartLine, clock: Stopwatch
    ) throws -> ([Double], Int) {
        var arrived = false
        defer { if !arrived { startLine.arrive() } }
        let client = try LineClient(port: port)
        let loggedIn = try client.final("/login \(user) \(password)").hasPrefix("OK")
        arrived = true
        startLine.arrive()
        guard loggedIn else { return ([], messages) }
        clock.started(ContinuousClock.now)
        var times: [Double] = []
        var failures = 0
        for index in 0..<messages {
            let sent = ContinuousClock.now
            let answer = try client.final("benchmark message number \(index)")
            let took = ContinuousClock.now - sent
            if answer.hasPrefix("OK") {
                times.append(Double(took.components.attoseconds) / 1e15 + Double(took.components.seconds) * 1000)
            } else {
                failures += 1
            }
        }
        clock.ended(ContinuousClock.now)
        _ = try client.final("/quit")
        return (times, failures)
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
