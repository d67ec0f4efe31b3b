// AES-GCM authenticated encryption over OpenSSL's EVP cipher API, and key wrapping built on it.
//
// Every sealed field in Enclave is one `SealedBox`: a random 96-bit nonce from the OpenSSL CSPRNG,
// the ciphertext, and a 128-bit tag, stored as `nonce ‖ ciphertext ‖ tag`. Only 96-bit nonces are
// accepted (other lengths are GHASHed by GCM, a path with a history of bugs and nothing to gain).
// Enclave generates 256-bit keys only; 128/192-bit keys are accepted so the Wycheproof vectors for
// all three sizes run through the same code.
internal import COpenSSL

/// The output of AES-GCM sealing: `nonce` (12 bytes), `ciphertext`, `tag` (16 bytes).
public struct SealedBox: Sendable, Equatable {
    /// Nonce length in bytes (96 bits).
    public static let nonceCount = 12
    /// Tag length in bytes (128 bits).
    public static let tagCount = 16

    public let nonce: [UInt8]
    public let ciphertext: [UInt8]
    public let tag: [UInt8]

    /// Assembles a box from its parts. Throws `CryptoError.invalidArgument` on a wrong nonce or tag length.
    public init(nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) throws {
        guard nonce.count == Self.nonceCount else {
            throw CryptoError.invalidArgument("AES-GCM nonce must be 12 bytes, not \(nonce.count)")
        }
        guard tag.count == Self.tagCount else {
            throw CryptoError.invalidArgument("AES-GCM tag must be 16 bytes, not \(tag.count)")
        }
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    /// Splits `nonce ‖ ciphertext ‖ tag`. Throws `CryptoError.invalidArgument` if it is too short.
    public init(combined: [UInt8]) throws {
        guard combined.count >= Self.nonceCount + Self.tagCount else {
            throw CryptoError.invalidArgument("sealed box of \(combined.count) bytes is too short")
        }
        try self.init(
            nonce: Array(combined[0..<Self.nonceCount]),
            ciphertext: Array(combined[Self.nonceCount..<(combined.count - Self.tagCount)]),
            tag: Array(combined[(combined.count - Self.tagCount)...]))
    }

    /// `nonce ‖ ciphertext ‖ tag`, the form stored in the database.
    public var combined: [UInt8] { nonce + ciphertext + tag }
}

/// AES-GCM with a random 96-bit nonce and a 128-bit tag.
public enum AESGCM {
    /// Encrypts and authenticates `plaintext` and authenticates `aad`, under a fresh random nonce.
    public static func seal(_ plaintext: [UInt8], key: SymmetricKey, aad: [UInt8] = []) throws -> SealedBox {
        try seal(plaintext, key: key, nonce: try SecureRandom.bytes(SealedBox.nonceCount), aad: aad)
    }

    /// Sealing with a caller-chosen nonce: internal, for known-answer tests only (a repeated nonce
    /// under one key destroys GCM's security).
    static func seal(_ plaintext: [UInt8], key: SymmetricKey, nonce: [UInt8], aad: [UInt8]) throws -> SealedBox {
        guard nonce.count == SealedBox.nonceCount else {
            throw CryptoError.invalidArgument("AES-GCM nonce must be 12 bytes, not \(nonce.count)")
        }
        let context = try CipherContext()
        let cipher = try gcmCipher(for: key)
        try key.withKeyPointer { keyPointer, _ in
            try check(EVP_EncryptInit_ex(context.pointer, cipher, nil, keyPointer, nonce), "EVP_EncryptInit_ex")
        }
        var length: Int32 = 0
        if !aad.isEmpty {
            try check(EVP_EncryptUpdate(context.pointer, nil, &length, aad, Int32(aad.count)), "EVP_EncryptUpdate(aad)")
        }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        if !plaintext.isEmpty {
            try check(
                EVP_EncryptUpdate(context.pointer, &ciphertext, &length, plaintext, Int32(plaintext.count)),
                "EVP_EncryptUpdate")
        }
        var tail = [UInt8](repeating: 0, count: 16)
        try check(EVP_EncryptFinal_ex(context.pointer, &tail, &length), "EVP_EncryptFinal_ex")
        var tag = [UInt8](repeating: 0, count: SealedBox.tagCount)
        try check(
            EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_GET_TAG, Int32(SealedBox.tagCount), &tag),
            "EVP_CTRL_GCM_GET_TAG")
        return try SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag)
    }

    /// Verifies and decrypts `box`. Throws `CryptoError.authenticationFailed` if the key, nonce,
    /// ciphertext, tag or AAD differ from those sealed; no plaintext is ever returned in that case.
    public static func open(_ box: SealedBox, key: SymmetricKey, aad: [UInt8] = []) throws -> [UInt8] {
        let context = try CipherContext()
        let cipher = try gcmCipher(for: key)
        try key.withKeyPointer { keyPointer, _ in
            try check(EVP_DecryptInit_ex(context.pointer, cipher, nil, keyPointer, box.nonce), "EVP_DecryptInit_ex")
        }
        var length: Int32 = 0
        if !aad.isEmpty {
            try check(EVP_DecryptUpdate(context.pointer, nil, &length, aad, Int32(aad.count)), "EVP_DecryptUpdate(aad)")
        }
        var plaintext = [UInt8](repeating: 0, count: box.ciphertext.count)
        if !box.ciphertext.isEmpty {
            try check(
                EVP_DecryptUpdate(context.pointer, &plaintext, &length, box.ciphertext, Int32(box.ciphertext.count)),
                "EVP_DecryptUpdate")
        }
        var tag = box.tag
        try check(
            EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_TAG, Int32(SealedBox.tagCount), &tag),
            "EVP_CTRL_GCM_SET_TAG")
        var tail = [UInt8](repeating: 0, count: 16)
        guard EVP_DecryptFinal_ex(context.pointer, &tail, &length) > 0 else {
            ERR_clear_error()
            secureZero(&plaintext)
            throw CryptoError.authenticationFailed
        }
        return plaintext
    }

    /// The EVP cipher for the key's length.
    static func gcmCipher(for key: SymmetricKey) throws -> OpaquePointer {
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_gcm()
        case 24: cipher = EVP_aes_192_gcm()
        case 32: cipher = EVP_aes_256_gcm()
        default: throw CryptoError.invalidArgument("AES key must be 16, 24 or 32 bytes, not \(key.count)")
        }
        guard let cipher else { throw CryptoError.openSSL(function: "EVP_aes_gcm", reason: drainErrorQueue()) }
        return cipher
    }
}

/// Wraps data keys under a master key: AES-256-GCM of the key bytes, AAD binding the wrap's context.
public enum KeyWrap {
    /// The sealed form (`nonce ‖ ciphertext ‖ tag`) of `key` under `wrappingKey`.
    public static func wrap(_ key: SymmetricKey, under wrappingKey: SymmetricKey, aad: [UInt8]) throws -> [UInt8] {
        var bytes = key.copyBytes()
        defer { secureZero(&bytes) }
        return try AESGCM.seal(bytes, key: wrappingKey, aad: aad).combined
    }

    /// The key inside `wrapped`. Throws `CryptoError.authenticationFailed` if anything was altered.
    public static func unwrap(_ wrapped: [UInt8], under wrappingKey: SymmetricKey, aad: [UInt8]) throws -> SymmetricKey
    {
        var bytes = try AESGCM.open(SealedBox(combined: wrapped), key: wrappingKey, aad: aad)
        return try SymmetricKey(zeroing: &bytes)
    }
}

/// Owns one `EVP_CIPHER_CTX`; freeing it (which also cleanses the expanded key) happens in `deinit`.
final class CipherContext {
    let pointer: OpaquePointer

    init() throws {
        guard let pointer = EVP_CIPHER_CTX_new() else {
            throw CryptoError.openSSL(function: "EVP_CIPHER_CTX_new", reason: drainErrorQueue())
        }
        self.pointer = pointer
    }

    /// A context keyed for AES-GCM with `key` (no nonce yet), for encrypting or decrypting many boxes.
    convenience init(gcmKey key: SymmetricKey, encrypting: Bool) throws {
        try self.init()
        let cipher = try AESGCM.gcmCipher(for: key)
        try key.withKeyPointer { keyPointer, _ in
            try check(
                EVP_CipherInit_ex(pointer, cipher, nil, keyPointer, nil, encrypting ? 1 : 0),
                encrypting ? "EVP_EncryptInit_ex" : "EVP_DecryptInit_ex")
        }
    }

    deinit { EVP_CIPHER_CTX_free(pointer) }
}

extension AESGCM {
    /// Opens many sealed boxes under one key with one cipher context, so the AES key schedule is
    /// computed once per key rather than once per message. Freeing it cleanses the expanded key.
    /// Not Sendable: it belongs to one owner (e.g. the Store actor's data-key cache).
    public final class Opener {
        private let context: CipherContext

        /// Prepares a context for `key` (16, 24 or 32 bytes).
        public init(key: SymmetricKey) throws {
            context = try CipherContext(gcmKey: key, encrypting: false)
        }

        /// Verifies and decrypts `combined` (`nonce ‖ ciphertext ‖ tag`), like `AESGCM.open`.
        /// - Throws: `CryptoError.authenticationFailed` on any alteration; `invalidArgument` if too short.
        public func open(combined: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
            let overhead = SealedBox.nonceCount + SealedBox.tagCount
            guard combined.count >= overhead else {
                throw CryptoError.invalidArgument("sealed box of \(combined.count) bytes is too short")
            }
            var plaintext = [UInt8](repeating: 0, count: combined.count - overhead)
            let ok = try combined.withUnsafeBytes { box in
                try aad.withUnsafeBytes { aad in
                    try plaintext.withUnsafeMutableBytes { out in try open(combined: box, aad: aad, into: out) }
                }
            }
            guard ok else {
                plaintext.removeAll()  // already zeroed by the call that failed
                throw CryptoError.authenticationFailed
            }
            return plaintext
        }

        /// The plaintext length of a sealed box of `combinedCount` bytes (nil when too short to be one).
        public static func plaintextCount(combinedCount: Int) -> Int? {
            let overhead = SealedBox.nonceCount + SealedBox.tagCount
            return combinedCount >= overhead ? combinedCount - overhead : nil
        }

        /// Verifies and decrypts `combined` (`nonce ‖ ciphertext ‖ tag`) straight into `output`, which
        /// must hold exactly the plaintext (`plaintextCount(combinedCount:)` bytes): no allocation, so a
        /// caller can decrypt into the storage of the value it returns. Returns false, with `output`
        /// zeroed, if the key, nonce, ciphertext, tag or AAD differ from those sealed.
        /// - Throws: `invalidArgument` on a wrong `output` size; `openSSL` if OpenSSL itself fails.
        public func open(
            combined box: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
            into output: UnsafeMutableRawBufferPointer
        ) throws -> Bool {
            guard let ciphertextCount = Self.plaintextCount(combinedCount: box.count), let base = box.baseAddress,
                output.count == ciphertextCount
            else {
                throw CryptoError.invalidArgument(
                    "sealed box of \(box.count) bytes cannot open into \(output.count) bytes")
            }
            let ctx = context.pointer
            let bytes = base.assumingMemoryBound(to: UInt8.self)
            var verified = false
            // Whatever happens below, `output` holds plaintext only if the tag verified.
            defer {
                if !verified, let out = output.baseAddress, output.count > 0 { OPENSSL_cleanse(out, output.count) }
            }
            try check(EVP_DecryptInit_ex(ctx, nil, nil, nil, bytes), "EVP_DecryptInit_ex(nonce)")
            var length: Int32 = 0
            if let aadBase = aad.baseAddress, aad.count > 0 {
                try check(
                    EVP_DecryptUpdate(ctx, nil, &length, aadBase.assumingMemoryBound(to: UInt8.self), Int32(aad.count)),
                    "EVP_DecryptUpdate(aad)")
            }
            if ciphertextCount > 0 {
                try check(
                    EVP_DecryptUpdate(
                        ctx, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length,
                        bytes + SealedBox.nonceCount, Int32(ciphertextCount)),
                    "EVP_DecryptUpdate")
            }
            // OpenSSL copies the tag; the cast only satisfies the ctrl function's non-const signature.
            let tag = UnsafeMutableRawPointer(mutating: base + (box.count - SealedBox.tagCount))
            try check(
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(SealedBox.tagCount), tag),
                "EVP_CTRL_GCM_SET_TAG")
            // GCM's final step writes no bytes; a 16-byte scratch on the stack satisfies the signature.
            var tail: (UInt64, UInt64) = (0, 0)
            verified = withUnsafeMutableBytes(of: &tail) { scratch in
                EVP_DecryptFinal_ex(ctx, scratch.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) > 0
            }
            if !verified { ERR_clear_error() }
            return verified
        }
    }
}

extension AESGCM {
    /// Seals many boxes under one key with one cipher context, so the AES key schedule and GHASH key are
    /// computed once per key rather than once per field; each box still gets a fresh random nonce.
    /// Freeing it cleanses the expanded key. Not Sendable: it belongs to one owner (e.g. the Store actor's
    /// data-key cache).
    public final class Sealer {
        private let context: CipherContext

        /// Prepares a context for `key` (16, 24 or 32 bytes).
        public init(key: SymmetricKey) throws {
            context = try CipherContext(gcmKey: key, encrypting: true)
        }

        /// `nonce ‖ ciphertext ‖ tag` of `plaintext` and `aad` under a fresh random nonce, written straight
        /// into the returned array (no intermediate copy of the plaintext to zero afterwards).
        public func seal(_ plaintext: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer) throws -> [UInt8] {
            try seal(plaintext, aad: aad) { nonce in
                try check(RAND_bytes(nonce.baseAddress!, Int32(nonce.count)), "RAND_bytes")
            }
        }

        /// Sealing with a caller-chosen nonce: internal, for known-answer tests only.
        func seal(_ plaintext: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
            guard nonce.count == SealedBox.nonceCount else {
                throw CryptoError.invalidArgument("AES-GCM nonce must be 12 bytes, not \(nonce.count)")
            }
            return try plaintext.withUnsafeBytes { plain in
                try aad.withUnsafeBytes { aad in
                    try seal(plain, aad: aad) { out in _ = out.initialize(from: nonce) }
                }
            }
        }

        /// Seals into one new array: `makeNonce` fills its first 12 bytes, the cipher the rest.
        private func seal(
            _ plaintext: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer,
            makeNonce: (UnsafeMutableBufferPointer<UInt8>) throws -> Void
        ) throws -> [UInt8] {
            let count = plaintext.count
            let nonceCount = SealedBox.nonceCount
            guard count <= Int(Int32.max) - nonceCount - SealedBox.tagCount, aad.count <= Int(Int32.max) else {
                throw CryptoError.invalidArgument("AES-GCM input of \(count) bytes is too long")
            }
            let ctx = context.pointer
            return try [UInt8](unsafeUninitializedCapacity: nonceCount + count + SealedBox.tagCount) { out, filled in
                let base = out.baseAddress!
                try makeNonce(UnsafeMutableBufferPointer(rebasing: out[..<nonceCount]))
                try check(EVP_EncryptInit_ex(ctx, nil, nil, nil, base), "EVP_EncryptInit_ex(nonce)")
                var length: Int32 = 0
                if let aadBase = aad.baseAddress, aad.count > 0 {
                    try check(
                        EVP_EncryptUpdate(
                            ctx, nil, &length, aadBase.assumingMemoryBound(to: UInt8.self), Int32(aad.count)),
                        "EVP_EncryptUpdate(aad)")
                }
                if let plainBase = plaintext.baseAddress, count > 0 {
                    try check(
                        EVP_EncryptUpdate(
                            ctx, base + nonceCount, &length, plainBase.assumingMemoryBound(to: UInt8.self),
                            Int32(count)),
                        "EVP_EncryptUpdate")
                }
                // GCM's final step writes no bytes; a 16-byte scratch on the stack satisfies the signature.
                var tail: (UInt64, UInt64) = (0, 0)
                try withUnsafeMutableBytes(of: &tail) { scratch in
                    try check(
                        EVP_EncryptFinal_ex(ctx, scratch.baseAddress!.assumingMemoryBound(to: UInt8.self), &length),
                        "EVP_EncryptFinal_ex")
                }
                try check(
                    EVP_CIPHER_CTX_ctrl(
                        ctx, EVP_CTRL_GCM_GET_TAG, Int32(SealedBox.tagCount), base + nonceCount + count),
                    "EVP_CTRL_GCM_GET_TAG")
                filled = out.count
            }
        }
    }
}
