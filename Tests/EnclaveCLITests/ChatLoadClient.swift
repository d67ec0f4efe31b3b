// The load tests' client: EnclaveClient's blocking `LineClient` (one thread per client, against a separate
// `enclave serve` process), timing the first reply byte of each message (the first `> ` text), so a
// test can measure time to first token as a user sees it: from the line leaving the client to the first
// streamed text arriving. End of stream and timeouts read as nil.
import EnclaveClient
import Foundation

/// One connection; not shared between threads.
final class ChatLoadClient {
    /// A server configuration for load tests: replies cut at 4 tokens, 20 generations at once, rate
    /// limits far above what the tests send.
    static let shortRepliesConfiguration = """
        limits:
          max_tokens: 4
          concurrent_generations: 20
          messages_per_minute: 6000
          message_burst: 100
        """

    private let client: LineClient

    /// What one message got back.
    struct Reply {
        var lines: [String]
        /// Seconds from sending to the first streamed `> ` text, if any arrived.
        var firstToken: Double?
        /// Seconds from sending to the final line.
        var total: Double
        var final: String? { lines.last }
    }

    /// Connects to `127.0.0.1:port`; a read that waits longer than `timeout` ends the stream.
    init(port: Int, timeout: Duration = .seconds(600)) throws {
        client = try LineClient(port: port, timeout: timeout)
    }

    func send(_ line: String) { try? client.send(line) }

    /// The next line (without LF), or nil when the server closed the connection. `onText` is called
    /// once, when a line starting with `> ` begins to arrive.
    func readLine(onText: () -> Void = {}) -> String? { try? client.readLine(onTextStart: onText) }

    /// Every byte until the server closes (or the timeout passes without any).
    func readToEnd() -> [UInt8] { client.readToEnd() }

    static func isFinal(_ line: String) -> Bool { LineClient.isFinal(line) }

    /// Reads until the banner's hint line.
    func readBanner() -> Bool {
        while let line = readLine() {
            if line.hasPrefix("* type") { return true }
            if line.hasPrefix("ERR ") { return false }
        }
        return false
    }

    /// Sends `line` and reads up to its final line, timing the first streamed text.
    func exchange(_ line: String) -> Reply {
        let sent = Date()
        var firstToken: Double?
        var lines: [String] = []
        send(line)
        while let next = readLine(onText: { if firstToken == nil { firstToken = Date().timeIntervalSince(sent) } }) {
            lines.append(next)
            if Self.isFinal(next) { break }
        }
        return Reply(lines: lines, firstToken: firstToken, total: Date().timeIntervalSince(sent))
    }
}

/// Percentiles of a sample, nearest-rank.
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

/// Runs `body(index)` on `count` threads at once and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}
