// The POSIX file handling under the audit log: an append-only descriptor whose `write` returns only
// once the bytes are on disk (write loop + fsync), a reader that streams a file in 1 MiB chunks, and a
// splitter that turns chunks into LF-terminated lines without holding the whole log in memory (a
// six-year log can be gigabytes). All I/O errors become `AuditError.io` with the errno text.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file opened `O_WRONLY | O_APPEND | O_CREAT`. Immutable after `init` (the descriptor is a `let`),
/// so it is safe to hand to the I/O queue; it closes its descriptor in `deinit`.
final class AppendOnlyFile: Sendable {
    let path: String
    private let descriptor: Int32

    /// Opens (creating with `mode` if needed and `create` is set) `path` for appending.
    init(path: String, mode: mode_t = 0o600, create: Bool = true) throws(AuditError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), mode)
        guard fd >= 0 else { throw AuditError.io(operation: "open", path: path, reason: errnoText()) }
        self.descriptor = fd
    }

    deinit { close(descriptor) }

    /// Appends `bytes` (all of them) and, when `sync` is set, fsyncs before returning.
    func append(_ bytes: [UInt8], sync: Bool) throws(AuditError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw AuditError.io(operation: "write", path: path, reason: errnoText())
            }
            guard written > 0 else { throw AuditError.io(operation: "write", path: path, reason: "wrote 0 bytes") }
            offset += written
        }
        if sync { try self.sync() }
    }

    /// Takes the exclusive advisory lock every writer of this log takes before appending (other processes
    /// included); blocks while another holds it.
    func lock() throws(AuditError) {
        while flock(descriptor, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw AuditError.io(operation: "flock", path: path, reason: errnoText())
        }
    }

    /// Releases the lock taken by `lock()`.
    func unlock() {
        _ = flock(descriptor, LOCK_UN)
    }

    /// The file's current size in bytes.
    func size() throws(AuditError) -> Int64 {
        Int64(try status().st_size)
    }

    /// `fstat` of the open file.
    func status() throws(AuditError) -> stat {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw AuditError.io(operation: "fstat", path: path, reason: errnoText())
        }
        return info
    }

    /// Flushes the file's data to stable storage, with the metadata needed to read it back (its size):
    /// `fdatasync` where it exists, which skips the timestamps `fsync` would also write.
    func sync() throws(AuditError) {
        #if os(Linux)
            guard fdatasync(descriptor) == 0 else {
                throw AuditError.io(operation: "fdatasync", path: path, reason: errnoText())
            }
        #else
            guard fsync(descriptor) == 0 else {
                throw AuditError.io(operation: "fsync", path: path, reason: errnoText())
            }
        #endif
    }
}

/// Fsyncs a directory, so that files just created in it survive a crash.
func syncDirectory(_ path: String) throws(AuditError) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw AuditError.io(operation: "open", path: path, reason: errnoText()) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw AuditError.io(operation: "fsync", path: path, reason: errnoText()) }
}

/// The text of the current `errno`.
func errnoText() -> String { String(cString: strerror(errno)) }

/// Reads `path` in chunks, calling `body` with each; `body` returns false to stop early.
/// Returns false if stopped early.
@discardableResult
func readChunks(of path: String, chunkSize: Int = 1 << 20, _ body: (ArraySlice<UInt8>) throws -> Bool) throws -> Bool {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw AuditError.io(operation: "open", path: path, reason: errnoText()) }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: chunkSize)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw AuditError.io(operation: "read", path: path, reason: errnoText())
        }
        if count == 0 { return true }
        if try !body(buffer[0..<count]) { return false }
    }
}

/// Whole contents of a small file (keys, checkpoints).
func readWholeFile(_ path: String) throws -> [UInt8] {
    var bytes: [UInt8] = []
    try readChunks(of: path) { chunk in
        bytes.append(contentsOf: chunk)
        return true
    }
    return bytes
}

/// Turns a stream of chunks into lines. A line is handed over without its LF; the bytes after the
/// last LF are kept until the next chunk, and `finish` reports them as an unterminated tail.
struct LineSplitter {
    private var partial: [UInt8] = []

    /// Feeds a chunk; `body` gets each complete line and returns false to stop (then this returns false).
    mutating func feed(_ chunk: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>) throws -> Bool) rethrows -> Bool {
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: 0x0A) {
            if partial.isEmpty {
                if try !body(chunk[start..<newline]) { return false }
            } else {
                partial.append(contentsOf: chunk[start..<newline])
                let line = partial
                partial.removeAll(keepingCapacity: true)
                if try !body(line[...]) { return false }
            }
            start = newline + 1
        }
        partial.append(contentsOf: chunk[start...])
        return true
    }

    /// The bytes after the last LF (a torn or truncated last line), or nil if the input ended on LF.
    func finish() -> [UInt8]? { partial.isEmpty ? nil : partial }
}

/// Lower-case hex decoding of exactly `count` bytes; nil for anything else (upper case included).
func decodeHex(_ text: String, count: Int) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count == count * 2 else { return nil }
    var out = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        guard let high = hexValue(utf8[2 * index]), let low = hexValue(utf8[2 * index + 1]) else { return nil }
        out[index] = high << 4 | low
    }
    return out
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: return byte - 0x30
    case 0x61...0x66: return byte - 0x61 + 10
    default: return nil
    }
}
