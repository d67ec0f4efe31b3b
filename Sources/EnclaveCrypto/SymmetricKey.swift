// Key material that zeroes itself: the one type every secret byte in Enclave lives in.
//
// Keys are immutable after construction, so a `SymmetricKey` is `Sendable` by immutability (a final
// class whose only stored property is a `let`). The bytes are copied into a buffer this object owns
// alone, and `deinit` wipes that buffer with OPENSSL_cleanse (which the optimiser may not remove), so
// a key's lifetime ends with its last reference. Also here: the CSPRNG and constant-time comparison.
internal import COpenSSL

/// A secret key (AES, HMAC, HKDF input, master and data keys). Zeroed when the last reference goes.
public final class SymmetricKey: Sendable {
    /// The key bytes; this array's buffer is never shared (see `init`) and is wiped in `deinit`.
    private let storage: [UInt8]

    /// Copies `bytes` into a buffer owned by the key. The caller should zero its own copy
    /// (or use `init(zeroing:)`).
    /// - Throws: `CryptoError.invalidArgument` if `bytes` is empty.
    public init(bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { throw CryptoError.invalidArgument("a key must not be empty") }
        storage = bytes.withUnsafeBufferPointer { Array($0) }
    }

    /// Takes the key from `bytes` and zeroes the caller's array afterwards.
    public convenience init(zeroing bytes: inout [UInt8]) throws {
        defer { secureZero(&bytes) }
        try self.init(bytes: bytes)
    }

    /// A fresh key of `count` bytes (default 32, i.e. 256 bits) from OpenSSL's CSPRNG.
    public static func random(count: Int = 32) throws -> SymmetricKey {
        var bytes = try SecureRandom.bytes(count)
        return try SymmetricKey(zeroing: &bytes)
    }

    deinit {
        storage.withUnsafeBytes { raw in
            // The buffer was allocated by `init` for this object alone and nothing reads it any more.
            if let base = raw.baseAddress { OPENSSL_cleanse(UnsafeMutableRawPointer(mutating: base), raw.count) }
        }
    }

    /// The key length in bytes.
    public var count: Int { storage.count }

    /// Lends the key bytes to `body`; they must not escape it.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }

    /// A copy of the key bytes, for writing a key file or wrapping. Zero it with `secureZero` after use.
    public func copyBytes() -> [UInt8] { storage.withUnsafeBufferPointer { Array($0) } }
}

/// Overwrites `bytes` with zeros in a way the optimiser cannot elide, then empties the array.
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress { OPENSSL_cleanse(base, raw.count) }
    }
    bytes.removeAll()
}

/// Overwrites `bytes` with zeros in a way the compiler may not remove (OPENSSL_cleanse), for memory
/// the caller owns outside an array (e.g. the tail of a `ManagedBuffer`).
public func secureZero(_ bytes: UnsafeMutableRawBufferPointer) {
    if let base = bytes.baseAddress, bytes.count > 0 { OPENSSL_cleanse(base, bytes.count) }
}

/// OpenSSL's cryptographically secure random generator.
public enum SecureRandom {
    /// `count` random bytes from RAND_bytes.
    public static func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= Int(Int32.max) else { throw CryptoError.invalidArgument("random count \(count)") }
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        try check(RAND_bytes(&out, Int32(count)), "RAND_bytes")
        return out
    }
}

/// Compares two byte strings in time that depends only on their lengths (CRYPTO_memcmp).
/// Lengths are not secret: different lengths return false at once.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { x in
        b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 }
    }
}

/// Calls `body` with a pointer that is never nil (OpenSSL rejects a nil pointer even for zero bytes).
func withNonNilBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
    if bytes.isEmpty {
        var dummy: UInt8 = 0
        return try body(&dummy, 0)
    }
    return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!, $0.count) }
}

extension SymmetricKey {
    /// Calls `body` with the key as a typed pointer and length.
    func withKeyPointer<R>(_ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
        try withUnsafeBytes { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count)
        }
    }
}
