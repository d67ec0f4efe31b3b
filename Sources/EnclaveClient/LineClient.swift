// A blocking line-protocol client over a real loopback TCP socket, as `nc` is: send one line, read
// lines until the final `OK`/`ERR`. `enclave bench server` measures with it (no async client's thread
// hops in the latency) and end-to-end tests drive a running `enclave serve` with it. Run each client
// on its own thread (`onThread`), never on the Swift concurrency pool.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a client call failed.
public struct LineClientError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// One connection to a line-protocol server.
public final class LineClient {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    /// Reused for every read, so that reading a reply allocates nothing per chunk.
    private var chunk = [UInt8](repeating: 0, count: 64 << 10)

    /// Connects to `127.0.0.1:port`; reads fail after `timeout` without data.
    public init(port: Int, timeout: Duration = .seconds(30)) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw LineClientError(description: "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw LineClientError(description: "cannot connect to port \(port)")
        }
        var wait = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var on: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(descriptor) }

    /// Closes the sending side (as `nc -N` does at the end of its input); reading goes on.
    public func shutdownWrite() { shutdown(descriptor, Int32(SHUT_WR)) }

    /// Runs blocking `work` on a thread of its own (never on the task pool, which it would starve).
    public static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }.start()
        }
    }

    /// Sends `line` (a LF is added).
    public func send(_ line: String) throws { try sendRaw(Array((line + "\n").utf8)) }

    /// Sends `bytes` as they are (a partial line, telnet commands, a flood).
    public func sendRaw(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { throw LineClientError(description: "write failed") }
            offset += written
        }
    }

    /// The next line (without its LF); throws at end of stream or timeout.
    public func readLine() throws -> String { try readLine(onTextStart: {}) }

    /// The next line, calling `onTextStart` as soon as the start of a streamed `> ` line has arrived,
    /// before the rest of it (time to first token as a user sees it); throws at end of stream or timeout.
    public func readLine(onTextStart: () -> Void) throws -> String {
        var noticed = false
        while true {
            if !noticed, buffer.starts(with: Self.textPrefix) {
                noticed = true
                onTextStart()
            }
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            try receive()
        }
    }

    private static let textPrefix = Array("> ".utf8)

    /// Every byte not read yet, up to the end of the stream (or the read timeout).
    public func readToEnd() -> [UInt8] {
        while (try? receive()) != nil {}
        defer { buffer = [] }
        return buffer
    }

    /// Waits until the bytes received but not yet read as lines contain `text` (a partial line counts):
    /// proof that a streamed piece arrived before the rest of its line.
    public func waitFor(_ text: String) throws {
        let needle = Array(text.utf8)
        while buffer.firstRange(of: needle) == nil {
            try receive()
        }
    }

    /// Appends the next bytes the server sent to `buffer`; throws at end of stream or timeout.
    private func receive() throws {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { throw LineClientError(description: "connection closed or timed out") }
        buffer += chunk[..<count]
    }

    /// Reads lines up to and including the next final line (`OK...` or `ERR ...`).
    public func readUntilFinal() throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            if Self.isFinal(line) { return lines }
        }
    }

    /// Whether `line` ends a reply (`OK...` or `ERR ...`).
    public static func isFinal(_ line: String) -> Bool {
        line == "OK" || line.hasPrefix("OK ") || line.hasPrefix("ERR ")
    }

    /// Sends `line` and returns every line up to its final one.
    public func exchange(_ line: String) throws -> [String] {
        try send(line)
        return try readUntilFinal()
    }

    /// The final line of the reply to `line`.
    public func final(_ line: String) throws -> String { try exchange(line).last ?? "" }

    /// Reads the banner (up to the first `* ... ready` line and any notices right after are left).
    public func readBanner() throws {
        while try !readLine().hasSuffix("ready") {}
    }
}
