// Start-up reads of the log file: its last complete line (read backwards in growing windows, so
// opening a multi-gigabyte log costs one small read) and a torn tail left by a crash mid-write, which
// is cut off. Also `FileIdentity`, which lets the writer notice that `audit.jsonl` was removed or
// replaced while the server runs (records would otherwise go to an unlinked inode and vanish), and
// `CurrentLogFile`, which follows a replacement that a signed prune explains and refuses any other.
internal import EnclaveCrypto
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The end of an existing log file.
struct LogTail {
    /// The last LF-terminated line (without LF), or nil for an empty or missing file.
    var lastLine: [UInt8]?
    /// Bytes after the last LF that were cut off (0 when the file ended cleanly).
    var tornBytes: Int

    static func read(path: String) throws(AuditError) -> LogTail {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return LogTail(lastLine: nil, tornBytes: 0) }
            throw AuditError.io(operation: "open", path: path, reason: errnoText())
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw AuditError.io(operation: "fstat", path: path, reason: errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw AuditError.corrupt("\(path) is not a regular file")
        }
        let size = Int(info.st_size)
        var window = min(size, 1 << 16)
        while true {
            var bytes = [UInt8](repeating: 0, count: window)
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, window, off_t(size - window)) }
            guard count == window else { throw AuditError.io(operation: "pread", path: path, reason: errnoText()) }
            let whole = window == size
            if let end = bytes.lastIndex(of: 0x0A) {
                let torn = window - end - 1
                if let start = bytes[..<end].lastIndex(of: 0x0A) {
                    return try finish(fd: fd, path: path, size: size, line: Array(bytes[(start + 1)..<end]), torn: torn)
                }
                if whole { return try finish(fd: fd, path: path, size: size, line: Array(bytes[..<end]), torn: torn) }
            } else if whole {
                return try finish(fd: fd, path: path, size: size, line: nil, torn: size)
            }
            window = min(size, window * 4)
        }
    }

    private static func finish(fd: Int32, path: String, size: Int, line: [UInt8]?, torn: Int) throws(AuditError)
        -> LogTail
    {
        if torn > 0 {
            guard ftruncate(fd, off_t(size - torn)) == 0, fsync(fd) == 0 else {
                throw AuditError.io(operation: "ftruncate", path: path, reason: errnoText())
            }
        }
        return LogTail(lastLine: line, tornBytes: torn)
    }
}

/// The device and inode of a file, to notice that its path now names another file (or none).
struct FileIdentity: Sendable {
    let path: String
    let device: UInt64
    let inode: UInt64

    init(path: String) throws(AuditError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw AuditError.io(operation: "stat", path: path, reason: errnoText()) }
        self.path = path
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// The identity of the file `file` has open (which `path` named when it was opened).
    init(of file: AppendOnlyFile) throws(AuditError) {
        let info = try file.status()
        path = file.path
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// The error for a log file that another file took the place of (fail closed).
    static func replaced(_ path: String) -> AuditError {
        AuditError.io(operation: "stat", path: path, reason: "audit file was replaced")
    }

    /// Throws unless `path` still names the same regular file.
    func check() throws(AuditError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw AuditError.io(operation: "stat", path: path, reason: "audit file removed: \(errnoText())")
        }
        guard UInt64(info.st_dev) == device, UInt64(info.st_ino) == inode else { throw Self.replaced(path) }
    }
}

/// The log file the path names now. A prune (in this process or another, always under the writers' lock)
/// replaces `audit.jsonl` with a shorter copy; a writer still holding the old file notices once it has the
/// lock and moves to the new one, but only when a signed prune mark starts the new file at its first
/// record. Any other replacement (a directory, a device, an older copy) stays an error, so the log fails
/// closed as before.
final class CurrentLogFile: Sendable {
    let path: String
    private let current: Mutex<(file: AppendOnlyFile, identity: FileIdentity)>
    private let publicKey: Ed25519PublicKey

    init(path: String, publicKey: Ed25519PublicKey) throws(AuditError) {
        self.path = path
        self.publicKey = publicKey
        let file = try AppendOnlyFile(path: path)
        current = Mutex((file, try FileIdentity(of: file)))
    }

    /// The file as last opened (for reads that need no lock).
    var file: AppendOnlyFile { current.withLock { $0.file } }

    /// Takes the writers' lock on the file `path` names now and returns it, with whether it is another file
    /// than the one this object held (then the caller must read the chain's end again).
    func lock() throws(AuditError) -> (file: AppendOnlyFile, replaced: Bool) {
        var replaced = false
        while true {
            let (file, identity) = current.withLock { ($0.file, $0.identity) }
            try file.lock()
            do throws(AuditError) {
                try identity.check()
                return (file, replaced)
            } catch {
                file.unlock()
                guard try prunedReplacement() else { throw error }
            }
            let reopened = try AppendOnlyFile(path: path, create: false)
            guard (try reopened.status().st_mode & S_IFMT) == S_IFREG else { throw FileIdentity.replaced(path) }
            let reopenedIdentity = try FileIdentity(of: reopened)
            current.withLock { $0 = (reopened, reopenedIdentity) }
            replaced = true
        }
    }

    /// Whether the file at `path` is a regular file whose first record is where the newest signed prune
    /// mark starts the log.
    private func prunedReplacement() throws(AuditError) -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        guard let first = try Self.firstSeq(path: path) else { return false }
        // A prune file that cannot be read or does not verify vouches for nothing.
        guard let marks = try? AuditPruneMark.read(directory: directory, publicKey: publicKey) else { return false }
        return marks.last?.first == first
    }

    /// The sequence number of the first record of the regular file at `path`, or nil.
    static func firstSeq(path: String) throws(AuditError) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var line: [UInt8] = []
        do {
            try readChunks(of: path, chunkSize: 1 << 16) { chunk in
                if let end = chunk.firstIndex(of: 0x0A) {
                    line += chunk[..<end]
                    return false
                }
                line += chunk
                return line.count < 1 << 20
            }
        } catch {
            return nil
        }
        return (try? AuditRecord(line: line[...]))?.seq
    }
}
