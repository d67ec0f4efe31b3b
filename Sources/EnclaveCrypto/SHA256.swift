// SHA-256 over OpenSSL's EVP digest API, one-shot or streamed (model files are ~100 MB).
internal import COpenSSL

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// An incremental SHA-256 hasher. Owns its `EVP_MD_CTX`, freed in `deinit`.
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() throws(CryptoError) {
        guard let context = EVP_MD_CTX_new() else {
            throw CryptoError.openSSL(function: "EVP_MD_CTX_new", reason: drainErrorQueue())
        }
        self.context = context
        try check(EVP_DigestInit_ex(context, EVP_sha256(), nil), "EVP_DigestInit_ex")
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes to the running digest.
    public func update(_ bytes: UnsafeRawBufferPointer) throws(CryptoError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        try check(EVP_DigestUpdate(context, base, bytes.count), "EVP_DigestUpdate")
    }

    /// Adds bytes to the running digest.
    public func update(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in try update(raw) }
    }

    /// Finishes and returns the 32-byte digest; the hasher must not be used afterwards.
    public func finalize() throws(CryptoError) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        try check(EVP_DigestFinal_ex(context, &digest, &length), "EVP_DigestFinal_ex")
        return digest
    }
}

public enum SHA256 {
    /// The SHA-256 of `bytes`.
    public static func hash(_ bytes: [UInt8]) throws -> [UInt8] {
        let hasher = try SHA256Hasher()
        try hasher.update(bytes)
        return try hasher.finalize()
    }

    /// The SHA-256 of a file's contents, read in 1 MiB chunks.
    public static func hash(fileAtPath path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw CryptoError.invalidArgument("cannot open \(path)") }
        defer { fclose(file) }
        let hasher = try SHA256Hasher()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count == 0 { break }
            try chunk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
                try hasher.update(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
            }
        }
        guard ferror(file) == 0 else { throw CryptoError.invalidArgument("read error in \(path)") }
        return try hasher.finalize()
    }
}

extension Array where Element == UInt8 {
    /// Lower-case hexadecimal, two digits per byte.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
