// The audit side of an online backup: a copy of the log as it stood at its latest signed checkpoint,
// taken while the server keeps appending. `audit.jsonl` is copied up to the checkpoint's record and
// `checkpoints.jsonl` up to and including that checkpoint, so the copy is exactly a log that was once
// whole and checkpointed (`audit verify` passes on it, with no tail beyond the last checkpoint), and
// `root.key` (sealed under a master-key version, never in clear) goes with it, and so do the signed
// prune marks (`prunes.jsonl`, empty until the log's own retention first removed records). Records appended after
// the checkpoint are not in the copy; `enclave backup` writes its own record and checkpoint just before
// copying, so the copy covers everything up to the backup.
internal import EnclaveCrypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public enum AuditBackup {
    /// Copies the log in `directory` into the new directory `destination` (created 0700) up to its latest
    /// checkpoint; returns that checkpoint's record count.
    /// - Throws: `AuditError.io` for unreadable or unwritable files, `.key` when the log has no checkpoint.
    public static func copy(from directory: String, to destination: String) throws -> UInt64 {
        let checkpointLines = try readWholeFile(directory + "/" + AuditLog.checkpointFileName)
        guard let end = checkpointLines.lastIndex(of: 0x0A) else {
            throw AuditError.key("\(directory) has no signed checkpoint to copy up to")
        }
        let start = checkpointLines[..<end].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        guard let checkpoint = AuditCheckpoint(line: checkpointLines[start..<end]) else {
            throw AuditError.key("the last line of \(directory)/\(AuditLog.checkpointFileName) is not a checkpoint")
        }
        try AuditLog.makeDirectory(destination)
        try writeNew(destination + "/" + AuditLog.checkpointFileName) { try $0(checkpointLines[...end]) }
        // A pruned log starts after record 1; the copy counts lines from its first record.
        let logPath = directory + "/" + AuditLog.logFileName
        let first = try CurrentLogFile.firstSeq(path: logPath) ?? 1
        guard checkpoint.count >= first else {
            throw AuditError.corrupt("the latest checkpoint (\(checkpoint.count)) is older than the log's first record")
        }
        var remaining = checkpoint.count - first + 1
        try writeNew(destination + "/" + AuditLog.logFileName) { write in
            try readChunks(of: logPath) { chunk in
                var cut = chunk.endIndex
                for index in chunk.indices where chunk[index] == 0x0A {
                    remaining -= 1
                    if remaining == 0 {
                        cut = index + 1
                        break
                    }
                }
                try write(chunk[..<cut])
                return remaining > 0
            }
        }
        guard remaining == 0 else {
            throw AuditError.io(
                operation: "copy", path: directory + "/" + AuditLog.logFileName,
                reason: "the log is shorter than its checkpoint (\(checkpoint.count) records)")
        }
        // Read after the log: marks only grow, and a prune appends its mark before it replaces the log, so
        // whichever log was copied starts at record 1 or at a mark this copy holds.
        let marksPath = directory + "/" + AuditPruneMark.fileName
        let marks = FileManager.default.fileExists(atPath: marksPath) ? try readWholeFile(marksPath) : []
        try writeNew(destination + "/" + AuditPruneMark.fileName) { try $0(marks[...]) }
        let root = try readWholeFile(directory + "/" + AuditRootKey.fileName)
        try writeNew(destination + "/" + AuditRootKey.fileName) { try $0(root[...]) }
        try syncDirectory(destination)
        return checkpoint.count
    }

    /// Creates `path` (0600, failing if it exists), lets `body` write to it, then fsyncs it.
    private static func writeNew(_ path: String, _ body: ((ArraySlice<UInt8>) throws -> Void) throws -> Void) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditError.io(operation: "create", path: path, reason: errnoText()) }
        defer { close(fd) }
        try body { bytes in
            var offset = bytes.startIndex
            while offset < bytes.endIndex {
                let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw AuditError.io(operation: "write", path: path, reason: errnoText()) }
                offset += written
            }
        }
        guard fsync(fd) == 0 else { throw AuditError.io(operation: "fsync", path: path, reason: errnoText()) }
    }
}
