// Shared helpers for the storage tests: temporary directories, key rings, a seeded generator,
// the built `enclave` binary for child-process tests, and byte searches over files.
import EnclaveCrypto
import Foundation
import Storage
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init(_ name: String = #function) throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("enclave-storage-\(safe)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A key ring with one random version-1 master key.
func makeKeyRing() throws -> KeyRing { try KeyRing(keys: [1: SymmetricKey.random()]) }

/// The `enclave` executable built next to this test bundle. Missing is a failure, not a skip.
func enclaveExecutable() throws -> URL {
    let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    var root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while root.path != "/" && !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path)
    {
        root.deleteLastPathComponent()
    }
    let candidates = [here.appendingPathComponent("enclave"), root.appendingPathComponent(".build/debug/enclave")]
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw StoreTestFailure(
            "the enclave executable was not built (tried \(candidates.map(\.path))); "
                + "run `swift build --build-tests` first")
    }
    return found
}

struct StoreTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `enclave` with `arguments` to completion; returns (exit status, stdout, stderr).
func runEnclave(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = try enclaveExecutable()
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self)
    )
}

/// Whether `needle` occurs in `haystack`: memchr for the needle's first non-zero byte, then memcmp.
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    let anchor = needle.firstIndex { $0 != 0 } ?? 0
    return haystack.withUnsafeBufferPointer { h in
        needle.withUnsafeBufferPointer { n in
            let base = h.baseAddress!
            var start = anchor
            let end = h.count - (n.count - anchor)
            while start <= end {
                guard let hit = memchr(base + start, Int32(n[anchor]), end - start + 1) else { return false }
                let at = hit.assumingMemoryBound(to: UInt8.self) - UnsafeMutablePointer(mutating: base)
                if memcmp(base + at - anchor, n.baseAddress!, n.count) == 0 { return true }
                start = at + 1
            }
            return false
        }
    }
}

/// The forms a leaked string could take on disk: UTF-8, UTF-16 LE and BE, and the fully determined
/// middle of its base64 encoding at each of the three byte alignments.
func leakPatterns(_ text: String) -> [[UInt8]] {
    let utf8 = Array(text.utf8)
    var patterns = [utf8]
    patterns.append(utf8.flatMap { [$0, 0] })
    patterns.append(utf8.flatMap { [0, $0] })
    for offset in 0..<3 {
        let encoded = Array(Data([UInt8](repeating: 0, count: offset) + utf8).base64EncodedString().utf8)
        let firstGroup = offset == 0 ? 0 : 1
        let lastGroup = (offset + utf8.count) / 3 - 1
        if lastGroup >= firstGroup { patterns.append(Array(encoded[(4 * firstGroup)..<(4 * (lastGroup + 1))])) }
    }
    return patterns
}

/// Every regular file under `directory`, with contents.
func filesUnder(_ directory: String) -> [(path: String, bytes: [UInt8])] {
    guard let names = FileManager.default.enumerator(atPath: directory) else { return [] }
    var out: [(String, [UInt8])] = []
    for case let name as String in names {
        let path = directory + "/" + name
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: path)
        {
            out.append((path, Array(data)))
        }
    }
    return out
}
