// Password hashing with scrypt (RFC 7914) over OpenSSL's EVP_PBE_scrypt.
//
// Stored form, self-describing so parameters can be raised later without a migration:
//
//     scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>      e.g. scrypt$15$8$1$...$...
//
// N = 2^15, r = 8, p = 1 costs 32 MiB and roughly 50-100 ms per hash here: slow for an attacker with a
// stolen database, tolerable at login. Verification bounds the parameters it accepts so a crafted
// stored string cannot make a login burn unbounded memory or time.
internal import COpenSSL
internal import Foundation

/// scrypt password hashes in a self-describing string.
public enum PasswordHash {
    /// log2 of the CPU/memory cost N used for new hashes.
    public static let log2N = 15
    /// Block size r for new hashes.
    public static let blockSize = 8
    /// Parallelism p for new hashes.
    public static let parallelism = 1

    private static let saltCount = 16
    private static let hashCount = 32

    /// A new stored hash of `password` with a random 16-byte salt.
    public static func make(_ password: String) throws -> String {
        let salt = try SecureRandom.bytes(saltCount)
        var hash = try scrypt(password, salt: salt, log2N: log2N, r: blockSize, p: parallelism, count: hashCount)
        defer { secureZero(&hash) }
        return [
            "scrypt", "\(log2N)", "\(blockSize)", "\(parallelism)",
            Data(salt).base64EncodedString(), Data(hash).base64EncodedString(),
        ].joined(separator: "$")
    }

    /// Whether `password` matches `stored`. A malformed stored string or out-of-range parameters
    /// never match (and never crash).
    public static func verify(_ password: String, against stored: String) -> Bool {
        let fields = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0] == "scrypt",
            let logN = Int(fields[1]), (10...20).contains(logN),
            let r = Int(fields[2]), (1...16).contains(r),
            let p = Int(fields[3]), (1...4).contains(p),
            let salt = Data(base64Encoded: String(fields[4])), !salt.isEmpty,
            let expected = Data(base64Encoded: String(fields[5])), (16...64).contains(expected.count),
            var actual = try? scrypt(password, salt: Array(salt), log2N: logN, r: r, p: p, count: expected.count)
        else { return false }
        defer { secureZero(&actual) }
        return constantTimeEquals(actual, Array(expected))
    }

    /// The raw scrypt output.
    static func scrypt(_ password: String, salt: [UInt8], log2N: Int, r: Int, p: Int, count: Int) throws -> [UInt8] {
        // A trailing NUL keeps the buffer non-empty (so its pointer is never nil); it is not hashed.
        var passwordBytes = Array(password.utf8) + [0]
        defer { secureZero(&passwordBytes) }
        var output = [UInt8](repeating: 0, count: count)
        // scrypt needs 128 * r * N bytes (plus a little); allow twice that.
        let maxMemory = UInt64(256 * r) << UInt64(log2N) + (1 << 20)
        let rc = passwordBytes.withUnsafeBufferPointer { pass in
            withNonNilBytes(salt) { saltPointer, saltCount in
                pass.withMemoryRebound(to: CChar.self) { passChars in
                    EVP_PBE_scrypt(
                        passChars.baseAddress, pass.count - 1, saltPointer, saltCount,
                        UInt64(1) << UInt64(log2N), UInt64(r), UInt64(p), maxMemory, &output, count)
                }
            }
        }
        try check(rc, "EVP_PBE_scrypt")
        return output
    }
}
