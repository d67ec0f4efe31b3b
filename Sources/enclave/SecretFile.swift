// A small secret written for one reader: the first admin's one-time password when `serve` runs under a
// service manager, whose journal would otherwise keep it. The file is created only its owner can read
// (0600, whatever the umask), a symbolic link in its place is refused rather than followed, and an old
// file of the same name is replaced (its password is stale: the account it was for exists or never did).
import Foundation

enum SecretFile {
    /// Writes `text` to `path` with mode 0600, replacing a regular file there.
    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        // An existing file keeps its mode through O_TRUNC: narrow it before the secret goes in.
        guard fchmod(fd, 0o600) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var bytes = Array(text.utf8)
        defer { for index in bytes.indices { bytes[index] = 0 } }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            written += n
        }
        guard fsync(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }
}
