// The one choke point where OpenSSL's return codes and error queue become Swift errors.
internal import COpenSSL

/// A failure inside OpenSSL's libcrypto, or a cryptographic check that did not pass.
public enum CryptoError: Error, Equatable, Sendable {
    /// An OpenSSL call failed; `function` names our call site, `reason` is OpenSSL's first queued error.
    case openSSL(function: String, reason: String)
    /// Authentication failed: the ciphertext, tag, nonce, AAD or key is not the one sealed.
    case authenticationFailed
    /// An argument has the wrong size or form (a 31-byte key, a short nonce, ...).
    case invalidArgument(String)
}

/// Library-wide facts about the linked OpenSSL.
public enum OpenSSL {
    /// The version string of the libcrypto actually loaded, e.g. "OpenSSL 3.0.19 27 Jan 2026".
    public static var version: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }
}

/// Throws a `CryptoError.openSSL` naming `function` unless `rc` is 1 (OpenSSL's success value).
@inline(__always)
func check(_ rc: Int32, _ function: String) throws(CryptoError) {
    guard rc == 1 else { throw CryptoError.openSSL(function: function, reason: drainErrorQueue()) }
}

/// Reads and clears OpenSSL's thread-local error queue, returning the first error's text.
func drainErrorQueue() -> String {
    let first = ERR_get_error()
    ERR_clear_error()
    guard first != 0 else { return "unknown error" }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(first, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
