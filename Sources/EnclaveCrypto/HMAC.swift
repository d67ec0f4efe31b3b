// HMAC-SHA256 and HKDF-SHA256 over OpenSSL's EVP MAC and KDF implementations.
//
// HMAC keys the audit chain and the key check value; HKDF derives sub-keys (e.g. the audit MAC key
// from the master key). HKDF uses the EVP_PKEY derive interface; its context is owned by a class.
internal import COpenSSL

/// HMAC with SHA-256 (32-byte tags).
public enum HMACSHA256 {
    /// Tag length in bytes.
    public static let tagCount = 32

    /// The 32-byte HMAC-SHA256 of `message` under `key`.
    public static func authenticate(_ message: [UInt8], key: SymmetricKey) throws -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: tagCount)
        var length = 0
        let result = key.withKeyPointer { keyPointer, keyCount in
            withNonNilBytes(message) { messagePointer, messageCount in
                EVP_Q_mac(
                    nil, "HMAC", nil, "SHA256", nil, keyPointer, keyCount, messagePointer, messageCount,
                    &tag, tagCount, &length)
            }
        }
        guard result != nil, length == tagCount else {
            throw CryptoError.openSSL(function: "EVP_Q_mac", reason: drainErrorQueue())
        }
        return tag
    }

    /// Whether `tag` is the HMAC of `message`, compared in constant time. A tag shorter than 32 bytes
    /// (but at least 16) is compared against the same-length prefix (RFC 2104 truncation).
    public static func isValidAuthenticationCode(_ tag: [UInt8], for message: [UInt8], key: SymmetricKey) -> Bool {
        guard tag.count >= 16, tag.count <= tagCount, let full = try? authenticate(message, key: key) else {
            return false
        }
        return constantTimeEquals(Array(full.prefix(tag.count)), tag)
    }
}

/// HKDF (RFC 5869) with SHA-256.
public enum HKDFSHA256 {
    /// The largest output HKDF-SHA256 allows (255 blocks of 32 bytes).
    public static let maximumCount = 255 * 32

    /// Extracts from `key` with `salt` and expands with `info` to `count` bytes.
    /// - Throws: `CryptoError.invalidArgument` if `count` is not in 1...8160.
    public static func deriveKey(from key: SymmetricKey, salt: [UInt8], info: [UInt8], count: Int = 32) throws
        -> SymmetricKey
    {
        guard count > 0, count <= maximumCount else {
            throw CryptoError.invalidArgument("HKDF-SHA256 output must be 1...\(maximumCount) bytes, not \(count)")
        }
        let context = try PKeyContext(id: EVP_PKEY_HKDF)
        try check(EVP_PKEY_derive_init(context.pointer), "EVP_PKEY_derive_init")
        try check(EVP_PKEY_CTX_set_hkdf_md(context.pointer, EVP_sha256()), "EVP_PKEY_CTX_set_hkdf_md")
        try withNonNilBytes(salt) { pointer, length in
            try check(EVP_PKEY_CTX_set1_hkdf_salt(context.pointer, pointer, Int32(length)), "set1_hkdf_salt")
        }
        try key.withKeyPointer { pointer, length in
            try check(EVP_PKEY_CTX_set1_hkdf_key(context.pointer, pointer, Int32(length)), "set1_hkdf_key")
        }
        if !info.isEmpty {
            try check(EVP_PKEY_CTX_add1_hkdf_info(context.pointer, info, Int32(info.count)), "add1_hkdf_info")
        }
        var output = [UInt8](repeating: 0, count: count)
        var length = count
        try check(EVP_PKEY_derive(context.pointer, &output, &length), "EVP_PKEY_derive")
        return try SymmetricKey(zeroing: &output)
    }
}

/// Owns one `EVP_PKEY_CTX`, freed in `deinit`.
final class PKeyContext {
    let pointer: OpaquePointer

    init(id: Int32) throws {
        guard let pointer = EVP_PKEY_CTX_new_id(id, nil) else {
            throw CryptoError.openSSL(function: "EVP_PKEY_CTX_new_id", reason: drainErrorQueue())
        }
        self.pointer = pointer
    }

    deinit { EVP_PKEY_CTX_free(pointer) }
}
