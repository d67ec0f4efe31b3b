// Reading and writing master-key files and running key commands, with the checks that keep a key
// from being read from a file anyone else could have read or replaced.
internal import EnclaveCrypto
internal import Foundation

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

extension KeyRing {
    /// Reads a key file after checking it is a regular file, owned by this user, mode 0600 or 0400.
    static func readKeyFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw StoreError(.keySource, "cannot open key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError(.keySource, "cannot stat key file \(path)") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw StoreError(.keySource, "key file \(path) is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw StoreError(
                .keySource,
                "key file \(path) is owned by uid \(info.st_uid), not by this user "
                    + "(uid \(geteuid())); refusing to use it")
        }
        let mode = info.st_mode & 0o777
        guard mode == 0o600 || mode == 0o400 else {
            throw StoreError(
                .keySource,
                "key file \(path) has mode \(String(mode, radix: 8)); it must be 600 or 400 "
                    + "(chmod 600 \(path))")
        }
        guard info.st_size <= 64 * 1024 else { throw StoreError(.keySource, "key file \(path) is too large") }
        var contents = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        defer { secureZero(&chunk) }
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw StoreError(.keySource, "cannot read key file \(path)") }
            if count == 0 { break }
            contents += chunk[0..<count]
        }
        return contents
    }

    /// Runs `argv` and returns its standard output; a non-zero exit is an error.
    static func runKeyCommand(_ argv: [String]) throws -> [UInt8] {
        guard let executable = argv.first else { throw StoreError(.keySource, "empty key command") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(argv.dropFirst())
        let output = Pipe()
        process.standardOutput = output
        do {
            try process.run()
        } catch {
            throw StoreError(.keySource, "cannot run key command \(executable): \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StoreError(.keySource, "key command \(executable) exited with status \(process.terminationStatus)")
        }
        return Array(data)
    }

    /// Creates a new key file holding this ring, mode 0600; refuses if the file exists.
    public func createKeyFile(at path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason =
                errno == EEXIST ? "it already exists (refusing to overwrite a key)" : String(cString: strerror(errno))
            throw StoreError(.keySource, "cannot create key file \(path): \(reason)")
        }
        defer { close(fd) }
        try writeAll(fd, path: path)
    }

    /// Replaces the key file at `path` with this ring atomically (temporary file, fsync, rename).
    public func replaceKeyFile(at path: String) throws {
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(.keySource, "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        do {
            try writeAll(fd, path: temporary)
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            throw StoreError(.keySource, "cannot replace key file \(path): \(String(cString: strerror(errno)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
    }

    private func writeAll(_ fd: Int32, path: String) throws {
        var text = serialized()
        defer { secureZero(&text) }
        var offset = 0
        while offset < text.count {
            let written = text[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw StoreError(.keySource, "cannot write key file \(path)") }
            offset += written
        }
        guard fsync(fd) == 0 else { throw StoreError(.keySource, "cannot sync key file \(path)") }
    }
}
