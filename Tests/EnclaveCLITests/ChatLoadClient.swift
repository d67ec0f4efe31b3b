// A blocking line-protocol client over a real loopback TCP socket (POSIX), for load tests that run
// one thread per client against a separate `enclave serve` process. It timestamps the first reply
// byte of each message (the first `> ` text), so a test can measure time to first token as a user
// sees it: from the line leaving the client to the first streamed text arriving.
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One connection; not shared between threads.
final class ChatLoadClient {
    private let socket: Int32
    private var pending: [UInt8] = []

    /// What one message got back.
    struct Reply {
        var lines: [String]
        /// Seconds from sending to the first streamed `> ` text, if any arrived.
        var firstToken: Double?
        /// Seconds from sending to the final line.
        var total: Double
        var final: String? { lines.last }
    }

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socket)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(socket) }

    func send(_ line: String) {
        sendRaw(Array((line + "\n").utf8))
    }

    func sendRaw(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, 0) }
            if written <= 0 { return }
            offset += written
        }
    }

    /// The next line (without LF), or nil when the server closed the connection. `onText` is called
    /// once, when a line starting with `> ` begins to arrive.
    func readLine(onText: (() -> Void)? = nil) -> String? {
        var notified = false
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if !notified, line.hasPrefix("> ") { onText?() }
                return line
            }
            if !notified, pending.starts(with: Array("> ".utf8)) {
                notified = true
                onText?()
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            pending += chunk[..<count]
        }
    }

    /// Every byte until the server closes (or 10 s pass without any).
    func readToEnd() -> [UInt8] {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            pending += chunk[..<count]
        }
        defer { pending = [] }
        return pending
    }

    /// The complete lines that have already arrived, without waiting for more.
    func availableLines() -> [String] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count <= 0 { break }
            pending += chunk[..<count]
        }
        var lines: [String] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(String(decoding: pending[..<newline], as: UTF8.self))
            pending.removeSubrange(...newline)
        }
        return lines
    }

    static func isFinal(_ line: String) -> Bool {
        line == "OK" || line.hasPrefix("OK ") || line.hasPrefix("ERR ")
    }

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
