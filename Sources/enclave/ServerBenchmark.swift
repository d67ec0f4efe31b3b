// `enclave bench server`: Enclave's own overhead. Drives a running ChatServer over loopback with
// concurrent clients sending messages (the caller wires an instant provider, so no model time is
// counted), and measures messages/s and latency percentiles per message (line sent → final line
// read), then the resident memory each idle connection costs. Every client logs in before any sends,
// so the logins' scrypt work (tens of ms of CPU each, by design) is not counted as message latency.
// Each client is EnclaveClient's blocking `LineClient` on a thread of its own, as `nc` is.
//
// Two baselines are measured in the same run: a command that touches nothing (`/whoami`: the protocol
// round trip, sockets and threads alone), sent by the same clients right after each message, so that
// both see the same machine (a virtual machine's stolen time comes and goes within seconds); and the
// data directory's durable write (a small append and its fdatasync), of which every message needs two
// rounds. Each client's first `warmup` pairs are sent but not counted: they pay for the process's
// first pages, caches and threads, once per server lifetime.
import EnclaveClient
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
        /// Process CPU time (user + system) per message and its `/whoami` while the clients sent: an upper
        /// bound of the server's, since the clients run in the same process. Under load, latency ≈ clients ×
        /// this / cores.
        public var cpuMsPerMessage: Double = 0
        /// `/whoami` sent after each message by the same client: the round trip without policy, storage,
        /// audit or provider.
        public var bareP50Ms: Double = 0
        public var bareP99Ms: Double = 0
        /// One durable write in the data directory (append + fdatasync); nil when not measured.
        public var sync: SyncFloor?
        /// Pairs each client sent before the counted ones.
        public var warmup = 0

        /// Enclave's own overhead at the 99th percentile: a message's p99 beyond the bare round trip's.
        public var overheadP99Ms: Double { p99Ms - bareP99Ms }

        public var description: String {
            var text = String(
                format: "messages=%d seconds=%.2f messages_per_s=%.0f p50_ms=%.3f p99_ms=%.3f failures=%d "
                    + "held_connections=%d rss_bytes_per_connection=%.0f p90_ms=%.3f max_ms=%.3f "
                    + "first_tenth_p99_ms=%.3f last_tenth_p99_ms=%.3f cpu_ms_per_message=%.3f "
                    + "bare_p50_ms=%.3f bare_p99_ms=%.3f overhead_p99_ms=%.3f warmup=%d",
                messages, seconds, Double(messages) / max(seconds, 1e-9), p50Ms, p99Ms, failures, heldConnections,
                rssBytesPerConnection, p90Ms, maxMs, firstTenthP99Ms, lastTenthP99Ms, cpuMsPerMessage, bareP50Ms,
                bareP99Ms, overheadP99Ms, warmup)
            if let sync { text += String(format: " sync_p50_ms=%.3f sync_p99_ms=%.3f", sync.p50Ms, sync.p99Ms) }
            return text
        }
    }

    /// The latency of one durable write where the server keeps its data.
    public struct SyncFloor: Sendable {
        public var p50Ms: Double
        public var p99Ms: Double
    }

    /// Holds every client until all have logged in (or failed to).
    /// `@unchecked Sendable`: `remaining` is guarded by `condition` (the lock).
    private final class StartLine: @unchecked Sendable {
        private let condition = NSCondition()
        private var remaining: Int

        init(clients: Int) { remaining = clients }

        /// Blocks the calling client thread until every client has arrived.
        func arrive() {
            condition.lock()
            defer { condition.unlock() }
            remaining -= 1
            if remaining <= 0 { condition.broadcast() }
            while remaining > 0 { condition.wait() }
        }
    }

    /// Runs `clients` concurrent sessions, each sending `warmup + messages` messages, each followed by a
    /// `/whoami`, then holds `held` idle connections. Each client logs in as `user`/`password`.
    public static func run(
        port: Int, user: String, password: String, clients: Int, messages: Int, held: Int, warmup: Int = 0
    ) async throws -> Report {
        let login = Login(port: port, user: user, password: password)
        let sent = try await phase(login, clients: clients, count: messages, warmup: warmup)
        let latencies = sent.perClient.flatMap(\.messages).sorted()
        let tenth = max(1, messages / 10)
        let first = sent.perClient.flatMap { $0.messages.prefix(tenth) }.sorted()
        let last = sent.perClient.flatMap { $0.messages.suffix(tenth) }.sorted()
        let bareLatencies = sent.perClient.flatMap(\.bare).sorted()
        let (connections, perConnection) = try await holdIdle(port: port, count: held)
        return Report(
            messages: latencies.count, seconds: sent.seconds, p50Ms: percentile(latencies, 0.50),
            p99Ms: percentile(latencies, 0.99), failures: sent.failures, heldConnections: connections,
            rssBytesPerConnection: perConnection, p90Ms: percentile(latencies, 0.90), maxMs: latencies.last ?? 0,
            firstTenthP99Ms: percentile(first, 0.99), lastTenthP99Ms: percentile(last, 0.99),
            cpuMsPerMessage: latencies.isEmpty ? 0 : sent.cpuSeconds * 1000 / Double(latencies.count),
            bareP50Ms: percentile(bareLatencies, 0.50), bareP99Ms: percentile(bareLatencies, 0.99), warmup: warmup)
    }

    /// Where and as whom the clients log in.
    private struct Login: Sendable {
        var port: Int
        var user: String
        var password: String
    }

    /// One client's counted latencies in order: its messages', and the `/whoami` after each.
    private struct Timings {
        var messages: [Double] = []
        var bare: [Double] = []
    }

    /// What the clients measured: each client's timings, failures, wall and CPU seconds of the counted part.
    private struct Phase {
        var perClient: [Timings] = []
        var failures = 0
        var seconds: Double = 0
        var cpuSeconds: Double = 0
    }

    /// `clients` concurrent sessions, each sending `warmup + count` messages, each followed by `/whoami`,
    /// once every client is in.
    private static func phase(_ login: Login, clients: Int, count: Int, warmup: Int) async throws -> Phase {
        let startLine = StartLine(clients: clients)
        let clock = Stopwatch()
        var result = try await withThrowingTaskGroup(of: (Timings, Int).self) { group in
            for _ in 0..<clients {
                group.addTask {
                    try await LineClient.onThread {
                        try session(login, count: count, warmup: warmup, startLine: startLine, clock: clock)
                    }
                }
            }
            var phase = Phase()
            for try await (timings, failed) in group {
                phase.perClient.append(timings)
                phase.failures += failed
            }
            return phase
        }
        result.cpuSeconds = clock.cpuSeconds
        result.seconds = clock.seconds
        return result
    }

    /// Times `count` appends of a 600-byte record, each followed by `fdatasync`, in a new file in
    /// `directory` (removed afterwards): what one durable write costs there.
    public static func syncFloor(directory: String, count: Int = 500) throws -> SyncFloor {
        let path = directory + "/sync-floor-\(UUID().uuidString)"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer {
            close(fd)
            unlink(path)
        }
        let record = [UInt8](repeating: 0x78, count: 600)
        var times: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            let written = record.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == record.count, fdatasync(fd) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            let took = ContinuousClock.now - start
            times.append(Double(took.components.attoseconds) / 1e15 + Double(took.components.seconds) * 1000)
        }
        times.sort()
        return SyncFloor(p50Ms: percentile(times, 0.50), p99Ms: percentile(times, 0.99))
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

    /// The counted part of the run: from the first counted message sent to the last answer read, over all
    /// clients, and the process's CPU time over that span.
    private final class Stopwatch: Sendable {
        private struct Span {
            var start: ContinuousClock.Instant?
            var end: ContinuousClock.Instant?
            var cpuAtStart: Double?
            var cpuAtEnd: Double?
        }
        private let span = Mutex(Span())

        func started(_ instant: ContinuousClock.Instant) {
            span.withLock { span in
                if span.start == nil { span.cpuAtStart = ServerBenchmark.cpuSeconds() }
                span.start = min(span.start ?? instant, instant)
            }
        }
        func ended(_ instant: ContinuousClock.Instant) {
            span.withLock { span in
                span.end = max(span.end ?? instant, instant)
                span.cpuAtEnd = ServerBenchmark.cpuSeconds()
            }
        }

        var seconds: Double {
            span.withLock { span in
                guard let start = span.start, let end = span.end else { return 0 }
                let elapsed = end - start
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
        }

        var cpuSeconds: Double {
            span.withLock { span in
                guard let start = span.cpuAtStart, let end = span.cpuAtEnd else { return 0 }
                return end - start
            }
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

    /// One client: log in, wait at the start line, send `warmup + count` messages, each followed by
    /// `/whoami`, timing each line up to its final line (the first `warmup` pairs uncounted), then quit.
    /// Blocking; runs on a thread of its own.
    private static func session(
        _ login: Login, count: Int, warmup: Int, startLine: StartLine, clock: Stopwatch
    ) throws -> (Timings, Int) {
        var arrived = false
        defer { if !arrived { startLine.arrive() } }
        let client = try LineClient(port: login.port)
        let loggedIn = try client.final("/login \(login.user) \(login.password)").hasPrefix("OK")
        arrived = true
        startLine.arrive()
        guard loggedIn else { return (Timings(), count * 2) }
        var timings = Timings()
        var failures = 0
        /// The milliseconds from sending `line` to reading its final line; nil when that line is not `OK`.
        func timed(_ line: String) throws -> Double? {
            let sent = ContinuousClock.now
            let answer = try client.final(line)
            let took = ContinuousClock.now - sent
            return answer.hasPrefix("OK")
                ? Double(took.components.attoseconds) / 1e15 + Double(took.components.seconds) * 1000 : nil
        }
        for index in 0..<(warmup + count) {
            let counted = index >= warmup
            if index == warmup { clock.started(ContinuousClock.now) }
            let message = try timed("benchmark message number \(index)")
            let bare = try timed("/whoami")
            guard counted else { continue }
            if let message { timings.messages.append(message) } else { failures += 1 }
            if let bare { timings.bare.append(bare) } else { failures += 1 }
        }
        clock.ended(ContinuousClock.now)
        _ = try client.final("/quit")
        return (timings, failures)
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
