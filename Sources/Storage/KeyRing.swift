// The master keys, by version, and where they come from.
//
// A master key is 256 bits. It comes from (a) a key file, which must be a regular file of mode 0600
// or 0400 owned by this process's user, (b) an environment variable, or (c) the standard output of a
// configured command (how a KMS, HSM or Vault client plugs in). All three carry the same text:
//
//     # comment lines and blank lines are ignored
//     1 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//     2 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
//
// one `<version> <64 hex digits>` line per version (a single bare 64-hex line means version 1).
// The ring never uses a master key directly: HKDF derives a wrapping key (for data keys), a check
// key (for the key check value stored in the database, which detects a wrong key at start-up) and a
// row key (for the MACs over user rows), each under its own label so no two uses share a key.
public import EnclaveCrypto
internal import Foundation
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Where the master keys come from.
public enum KeySource: Sendable, Equatable {
    /// A key file of mode 0600 or 0400 owned by this user.
    case file(String)
    /// An environment variable holding the key text.
    case environment(String)
    /// A command (argv) whose standard output is the key text.
    case command([String])
}

/// The master key versions this process holds. Thread-safe: the table is guarded by a `Mutex`.
public final class KeyRing: Sendable {
    /// Per version: the wrapping, check and row-MAC keys, all derived from the master key.
    private struct Entry: Sendable {
        let master: SymmetricKey
        let wrapping: SymmetricKey
        let check: SymmetricKey
        let rowMAC: SymmetricKey
    }

    private let entries: Mutex<[Int: Entry]>
    /// When the source was last re-read (`reloadFromSource`), to bound how often that happens.
    private let lastReload = Mutex<ContinuousClock.Instant?>(nil)
    /// Versions that outlive rotation because a kept backup needs them (`keep`).
    private let pinned = Mutex<Set<Int>>([])
    /// Where the keys were loaded from, if from a source.
    public let source: KeySource?

    /// A ring holding `keys` (version → 32-byte master key).
    public init(keys: [Int: SymmetricKey], source: KeySource? = nil) throws {
        var table: [Int: Entry] = [:]
        for (version, key) in keys {
            guard version > 0 else { throw StoreError(.keySource, "key version must be positive, not \(version)") }
            table[version] = try Self.entry(for: key)
        }
        guard !table.isEmpty else { throw StoreError(.keySource, "no master key") }
        entries = Mutex(table)
        self.source = source
    }

    private static func entry(for master: SymmetricKey) throws -> Entry {
        guard master.count == 32 else { throw StoreError(.keySource, "a master key must be 32 bytes (256 bits)") }
        return Entry(
            master: master,
            wrapping: try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/data-key-wrap/v1".utf8)),
            check: try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/key-check/v1".utf8)),
            rowMAC: try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/row-mac/v1".utf8)))
    }

    /// Loads the keys from `source`.
    public static func load(_ source: KeySource) throws -> KeyRing {
        var text: [UInt8]
        switch source {
        case .file(let path): text = try readKeyFile(path)
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw StoreError(.keySource, "environment variable \(name) is not set")
            }
            text = Array(value.utf8)
        case .command(let argv): text = try runKeyCommand(argv)
        }
        defer { secureZero(&text) }
        return try KeyRing(keys: parse(text), source: source)
    }

    /// Re-reads the key source and adds every version it holds that the ring does not (versions
    /// already held keep their key). A running server calls this when the database names a master
    /// version it lacks, i.e. after `enclave keys rotate` ran in another process. Re-reads at most
    /// once per `minimumInterval`; does nothing for a ring without a source.
    /// - Returns: the versions added.
    @discardableResult
    public func reloadFromSource(minimumInterval: Duration = .seconds(1)) throws -> [Int] {
        guard let source else { return [] }
        let now = ContinuousClock.now
        let due = lastReload.withLock { last -> Bool in
            if let last, now - last < minimumInterval { return false }
            last = now
            return true
        }
        guard due else { return [] }
        let fresh = try KeyRing.load(source)
        let loaded = fresh.entries.withLock { $0 }
        return entries.withLock { table in
            var added: [Int] = []
            for (version, entry) in loaded where table[version] == nil {
                table[version] = entry
                added.append(version)
            }
            return added.sorted()
        }
    }

    /// Every version held, ascending.
    public var versions: [Int] { entries.withLock { $0.keys.sorted() } }

    /// The highest version held.
    public var latestVersion: Int { entries.withLock { $0.keys.max() ?? 0 } }

    /// The key that wraps data keys under master `version`.
    func wrappingKey(version: Int) -> SymmetricKey? { entries.withLock { $0[version]?.wrapping } }

    /// The key of the MACs over user rows (RowMAC.swift) for master `version`, if the ring holds it.
    func rowMACKey(version: Int) -> SymmetricKey? { entries.withLock { $0[version]?.rowMAC } }

    /// The key check value of `version`: HMAC of a constant under a key derived from the master key.
    public func checkValue(version: Int) throws -> [UInt8]? {
        guard let check = entries.withLock({ $0[version]?.check }) else { return nil }
        return try HMACSHA256.authenticate(Array("enclave key check value".utf8), key: check)
    }

    /// Adds a new random master key as the next version and returns that version.
    @discardableResult
    public func addRandomVersion() throws -> Int {
        let entry = try Self.entry(for: SymmetricKey.random())
        return entries.withLock { table in
            let version = (table.keys.max() ?? 0) + 1
            table[version] = entry
            return version
        }
    }

    /// Forgets every version below `version` (after rotation, the retired keys), except those `keep` named.
    public func removeVersions(below version: Int) {
        let kept = keptVersions
        entries.withLock { table in table = table.filter { $0.key >= version || kept.contains($0.key) } }
    }

    /// Versions `removeVersions(below:)` must not forget: those a kept backup needs (`keys rotate`).
    public func keep(_ versions: Set<Int>) { pinned.withLock { $0 = versions } }

    /// The versions set by `keep`.
    public var keptVersions: Set<Int> { pinned.withLock { $0 } }

    /// Forgets one version (a key the source offered that does not match the database).
    func removeVersion(_ version: Int) {
        entries.withLock { table in table[version] = nil }
    }

    /// The key text for a key file: a comment and one `<version> <hex>` line per version.
    /// The result holds key material: zero it with `secureZero` after use.
    public func serialized() -> [UInt8] {
        var out = Array(
            "# Enclave master keys: keep secret (mode 0600). One line per version: <version> <hex key>\n".utf8)
        out.reserveCapacity(4096)  // no reallocation, so no stray copies of key digits on the heap
        entries.withLock { table in
            for version in table.keys.sorted() {
                // Hex digits go straight into `out` (which the caller zeroes), never into a String.
                let digits = Array("0123456789abcdef".utf8)
                out += Array("\(version) ".utf8)
                table[version]!.master.withUnsafeBytes { key in
                    for byte in key {
                        out.append(digits[Int(byte >> 4)])
                        out.append(digits[Int(byte & 0x0f)])
                    }
                }
                out.append(0x0a)
            }
        }
        return out
    }

    /// Parses key text into versioned keys.
    static func parse(_ text: [UInt8]) throws -> [Int: SymmetricKey] {
        var keys: [Int: SymmetricKey] = [:]
        for rawLine in text.split(separator: 0x0a) {
            let line = rawLine.filter { $0 != 0x0d }
            let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 })
            guard let first = fields.first, first.first != UInt8(ascii: "#") else { continue }
            let version: Int
            let hex: ArraySlice<UInt8>
            if fields.count == 1 {
                version = 1
                hex = first
            } else if fields.count == 2, let v = Int(String(decoding: first, as: UTF8.self)), v > 0 {
                version = v
                hex = fields[1]
            } else {
                throw StoreError(.keySource, "key text: expected '<version> <64 hex digits>' per line")
            }
            guard var bytes = decodeHex(hex), bytes.count == 32 else {
                throw StoreError(.keySource, "key text: version \(version) is not 64 hex digits (256 bits)")
            }
            guard keys[version] == nil else { throw StoreError(.keySource, "key text: version \(version) twice") }
            keys[version] = try SymmetricKey(zeroing: &bytes)
        }
        guard !keys.isEmpty else { throw StoreError(.keySource, "key text holds no key") }
        return keys
    }

    private static func decodeHex(_ hex: ArraySlice<UInt8>) -> [UInt8]? {
        guard hex.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out = [UInt8]()
        var index = hex.startIndex
        while index < hex.endIndex {
            guard let high = nibble(hex[index]), let low = nibble(hex[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
