// The `server:` section of the configuration: where to listen, TLS, and the transport's limits.
import Foundation

/// How the chat server listens and what it tolerates from a client.
public struct ServerConfiguration: Sendable {
    /// Certificate chain and private key files (PEM) for TLS.
    public struct TLSFiles: Sendable, Equatable {
        public var certificatePath: String
        public var keyPath: String

        public init(certificatePath: String, keyPath: String) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
        }
    }

    public var host = "127.0.0.1"
    /// 0 picks a free port (tests).
    public var port = 7878
    public var tls: TLSFiles?
    /// Allows a non-loopback address without TLS (`--insecure-bind`).
    public var allowInsecureBind = false
    /// Line limits in bytes, before and after `/login`.
    public var lineLimitBeforeLogin = 1024
    public var lineLimitAfterLogin = 16 * 1024
    /// The most bytes one `/paste` block may hold.
    public var pasteLimit = 64 * 1024
    public var idleBeforeLogin: Duration = .seconds(60)
    public var idleAfterLogin: Duration = .seconds(15 * 60)
    /// A client whose output stays blocked this long (it does not read) is disconnected.
    public var stallTimeout: Duration = .seconds(30)
    public var maxConnections = 4096
    public var maxConnectionsPerAddress = 256
    /// Client addresses in the server log in clear (for a SIEM that needs them); by default they are
    /// written as the audit log's keyed pseudonym, so the two logs still correlate.
    public var logClientAddresses = false
    /// How often the idle and stall timeouts are checked.
    public var timerResolution: Duration = .seconds(1)
    /// How often the server asks whether an account changed (one cheap query); when one did, its live
    /// sessions that are no longer allowed end within about this long.
    public var accountCheckInterval: Duration = .milliseconds(250)
    /// Lines every client sees in the banner and at the end of `/help` (which model answers, and what
    /// it is fit for).
    public var notices: [String] = []

    public init() {}

    /// True when `host` only accepts connections from this machine.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// Why the server could not start.
public enum ChatServerError: Error, CustomStringConvertible, Equatable {
    case insecureBind(String)
    case tls(String)

    public var description: String {
        switch self {
        case .insecureBind(let host):
            "refusing to listen on \(host) without TLS: configure --tls-cert/--tls-key or pass --insecure-bind"
        case .tls(let reason): "TLS set-up failed: \(reason)"
        }
    }
}
