// Opening `enclave chat`'s connection, and saying in a sentence why it failed. The libraries' errors
// (NIO's connection errors, BoringSSL's handshake codes) name the mechanism; a person needs the cause
// and the fix: nothing listens there, the certificate is not trusted (pass --ca), the port speaks TLS
// (pass --tls) or plain text (drop --tls).
//
// A plain client cannot tell a TLS port from a slow server: the TLS server waits, silent, for a
// ClientHello. So a plain connection starts with five empty lines, which a line server ignores
// (PROTOCOL.md) and which a TLS server reads as a malformed record header: it answers with an alert or
// closes at once, instead of after its idle timeout.
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One connection of `enclave chat`.
struct ChatConnection {
    /// Failures found after the connection was made.
    enum Failure: Error {
        /// The server closed the connection before its banner.
        case noBanner
        /// The server answered with a TLS record: the port speaks TLS.
        case speaksTLS
    }

    /// Telnet's Interrupt Process (IAC IP), which the server takes as "stop the reply in progress".
    static let interrupt: [UInt8] = [0xFF, 0xF4]

    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func open(_ options: ChatClient.Options) async throws -> ChatConnection {
        let sslContext = try options.tls ? makeSSLContext(caFile: options.caFile) : nil
        let host = options.host
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: options.host, port: options.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(
                                context: sslContext, serverHostname: host.first?.isLetter == true ? host : nil))
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        if sslContext == nil { channel.channel.writeAndFlush(ByteBuffer(string: "\n\n\n\n\n"), promise: nil) }
        return ChatConnection(channel: channel)
    }

    private static func makeSSLContext(caFile: String?) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw CAFileError(path: caFile, underlying: "\(error)")
            }
        }
        return try NIOSSLContext(configuration: tls)
    }

    struct CAFileError: Error {
        var path: String
        var underlying: String
    }

    /// True for the start of a TLS record (an alert or a handshake), which a line server never sends.
    static func looksLikeTLS(_ chunk: ByteBuffer) -> Bool {
        let bytes = chunk.readableBytesView
        guard bytes.count >= 2, let first = bytes.first else { return false }
        return (first == 0x15 || first == 0x16) && bytes[bytes.startIndex + 1] == 0x03
    }

    /// Why `error` ended (or prevented) the connection, as a sentence with the fix.
    static func sentence(for error: any Error, options: ChatClient.Options) -> String {
        let place = "\(options.host):\(options.port)"
        switch error {
        case Failure.speaksTLS:
            return "\(place) speaks TLS: connect with --tls (and --ca <file> for a private certificate authority)"
        case Failure.noBanner where !options.tls:
            return "\(place) closed the connection without a greeting; if it speaks TLS, connect with --tls"
        case Failure.noBanner:
            return "\(place) closed the connection without a greeting"
        case let error as CAFileError:
            return
                "cannot read the certificate authority file \(error.path) (a PEM file is needed): \(error.underlying)"
        case let error as NIOConnectionError:
            if error.connectionErrors.isEmpty {
                return "cannot find the host \(options.host)"
            }
            if error.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) {
                return "nothing is listening at \(place) (is `enclave serve` running, on that port?)"
            }
            return "cannot connect to \(place): \(error.connectionErrors.map { "\($0.error)" }.joined(separator: "; "))"
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return "nothing is listening at \(place) (is `enclave serve` running, on that port?)"
        case let error as NIOSSLError:
            let text = "\(error)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return "the server's certificate is not trusted: pass --ca <file> with the certificate authority "
                    + "that signed it"
            }
            if case .handshakeFailed = error {
                return "the TLS handshake with \(place) failed; if that port speaks plain text, drop --tls "
                    + "(\(text.prefix(160)))"
            }
            return "the TLS connection to \(place) failed: \(text.prefix(160))"
        case let error as NIOSSLExtraError:
            return "the server's certificate does not name \(options.host): \(error)"
        default:
            return "the connection to \(place) failed: \(error)"
        }
    }
}
