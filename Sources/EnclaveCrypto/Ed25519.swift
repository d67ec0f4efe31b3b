// Ed25519 signatures (RFC 8032) over OpenSSL's EVP_PKEY / EVP_DigestSign API.
//
// The audit log signs its checkpoints so that anyone holding only the public key can verify them
// offline. The private key is kept as its 32-byte seed inside a `SymmetricKey` (zeroed when dropped);
// an `EVP_PKEY` is built per operation and owned by a class that frees it.
internal import COpenSSL

/// An Ed25519 signing key. Immutable, so `Sendable`; the seed is zeroed when the key is released.
public final class Ed25519PrivateKey: Sendable {
    private let seed: SymmetricKey
    /// The matching verification key.
    public let publicKey: Ed25519PublicKey

    /// A new random key (the seed is 32 bytes from OpenSSL's CSPRNG, as RFC 8032 §5.1.5 specifies).
    public convenience init() throws {
        var seed = try SecureRandom.bytes(32)
        defer { secureZero(&seed) }
        try self.init(rawRepresentation: seed)
    }

    /// The key with this 32-byte seed.
    public init(rawRepresentation: [UInt8]) throws {
        guard rawRepresentation.count == 32 else {
            throw CryptoError.invalidArgument("Ed25519 private key must be 32 bytes, not \(rawRepresentation.count)")
        }
        let key = try SymmetricKey(bytes: rawRepresentation)
        let pkey = try PKey(privateSeed: key)
        var raw = [UInt8](repeating: 0, count: 32)
        var length = 32
        try check(EVP_PKEY_get_raw_public_key(pkey.pointer, &raw, &length), "EVP_PKEY_get_raw_public_key")
        self.seed = key
        self.publicKey = try Ed25519PublicKey(rawRepresentation: raw)
    }

    /// The 32-byte seed. Handle with care: it is the whole secret; zero the copy after use.
    public var rawRepresentation: [UInt8] { seed.copyBytes() }

    /// The 64-byte signature of `message`.
    public func signature(for message: [UInt8]) throws -> [UInt8] {
        let pkey = try PKey(privateSeed: seed)
        let context = try DigestContext()
        try check(EVP_DigestSignInit(context.pointer, nil, nil, nil, pkey.pointer), "EVP_DigestSignInit")
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        try withNonNilBytes(message) { pointer, count in
            try check(EVP_DigestSign(context.pointer, &signature, &length, pointer, count), "EVP_DigestSign")
        }
        return signature
    }
}

/// An Ed25519 verification key (32 bytes).
public struct Ed25519PublicKey: Sendable, Equatable {
    public let rawRepresentation: [UInt8]

    /// The key with this 32-byte encoding. Throws `CryptoError.invalidArgument` on a wrong length.
    public init(rawRepresentation: [UInt8]) throws {
        guard rawRepresentation.count == 32 else {
            throw CryptoError.invalidArgument("Ed25519 public key must be 32 bytes, not \(rawRepresentation.count)")
        }
        self.rawRepresentation = rawRepresentation
    }

    /// Whether `signature` is a valid signature of `message` under this key. Never throws: any
    /// malformed input is simply not valid.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64,
            let pkey = try? PKey(publicKey: rawRepresentation),
            let context = try? DigestContext(),
            EVP_DigestVerifyInit(context.pointer, nil, nil, nil, pkey.pointer) == 1
        else {
            ERR_clear_error()
            return false
        }
        let result = withNonNilBytes(message) { pointer, count in
            EVP_DigestVerify(context.pointer, signature, signature.count, pointer, count)
        }
        ERR_clear_error()
        return result == 1
    }
}

/// Owns one `EVP_PKEY`, freed in `deinit`.
final class PKey {
    let pointer: OpaquePointer

    init(privateSeed: SymmetricKey) throws {
        let made = privateSeed.withKeyPointer { pointer, count in
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, pointer, count)
        }
        guard let made else {
            throw CryptoError.openSSL(function: "EVP_PKEY_new_raw_private_key", reason: drainErrorQueue())
        }
        pointer = made
    }

    init(publicKey: [UInt8]) throws {
        guard let made = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, publicKey, publicKey.count) else {
            throw CryptoError.openSSL(function: "EVP_PKEY_new_raw_public_key", reason: drainErrorQueue())
        }
        pointer = made
    }

    deinit { EVP_PKEY_free(pointer) }
}

/// Owns one `EVP_MD_CTX`, freed in `deinit`.
final class DigestContext {
    let pointer: OpaquePointer

    init() throws {
        guard let pointer = EVP_MD_CTX_new() else {
            throw CryptoError.openSSL(function: "EVP_MD_CTX_new", reason: drainErrorQueue())
        }
        self.pointer = pointer
    }

    deinit { EVP_MD_CTX_free(pointer) }
}
