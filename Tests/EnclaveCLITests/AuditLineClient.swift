// A blocking line-protocol client over a real loopback TCP socket, for the audit completeness test:
// sends one line and collects the reply up to its final line (`OK...` or `ERR ...`).
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

final class AuditLineClient {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port` and reads the banner up to its `OK` or first non-notice line.
    init(port: Int) throws {
        #if canImport(Glibc)
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw CocoaError(.fileReadUnknown) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw CocoaError(.fileReadUnknown)
        }
        _ = try readLine()  // `* enclave <version> ready`
    }

    deinit { close(descriptor) }

    /// Sends `line` and returns every reply line up to and including the final one.
    @discardableResult
    func send(_ line: String) throws -> [String] {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { throw CocoaError(.fileWriteUnknown) }
            offset += written
        }
        var lines: [String] = []
        while true {
            let reply = try readLine()
            lines.append(reply)
            if reply == "OK" || reply.hasPrefix("OK ") || reply.hasPrefix("ERR ") { return lines }
        }
    }

    /// The last line of the reply to `line` (its final line).
    func final(_ line: String) throws -> String { try send(line).last ?? "" }

    private func readLine() throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw CocoaError(.fileReadUnknown) }
            buffer += chunk[..<count]
        }
    }
}
