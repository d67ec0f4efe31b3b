// The client side used by `enclave chat`: connects (optionally over TLS), logs in, and relays lines
// between the person (or a script on stdin) and the server, printing server output as it arrives so
// replies appear while they stream. It waits for each line's final `OK`/`ERR` before sending the
// next, so a script behaves the same as a person typing.
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A line-protocol client for people and scripts.
public struct ChatClient: Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 7878
        public var user: String?
        public var tls = false
        /// A PEM file of certificate authorities to trust (default: the system's).
        public var caFile: String?

        public init() {}
    }

    /// Where input lines come from (a blocking reader run off the cooperative pool) and where output goes.
    public let options: Options
    private let readLine: @Sendable () -> String?
    private let readPassword: @Sendable () -> String?
    private let write: @Sendable (String) -> Void

    public init(
        options: Options, readLine: @escaping @Sendable () -> String?,
        readPassword: @escaping @Sendable () -> String?, write: @escaping @Sendable (String) -> Void
    ) {
        self.options = options
        self.readLine = readLine
        self.readPassword = readPassword
        self.write = write
    }

    /// Runs the session; returns a process exit status (0 when it ended with `/quit` or end of input).
    public func run() async throws -> Int32 {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { pool.shutdownGracefully { _ in } }
        let sslContext = try options.tls ? makeSSLContext() : nil
        let host = options.host
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
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
        return try await channel.executeThenClose { inbound, outbound in
            var reader = ReplyReader(inbound: inbound.makeAsyncIterator(), write: write)
            guard try await reader.readBanner() else { return 1 }
            if let user = options.user {
                guard let password = try await pool.runIfActive({ readPassword() }) else { return 1 }
                try await outbound.write(ByteBuffer(string: "/login \(user) \(password)\n"))
                guard let final = try await reader.readUntilFinal(), final.hasPrefix("OK") else { return 1 }
            }
            var pasting = false
            while true {
                guard let line = try await pool.runIfActive({ readLine() }) else {
                    if !pasting {
                        try await outbound.write(ByteBuffer(string: "/quit\n"))
                        _ = try await reader.readUntilFinal()
                    }
                    return 0
                }
                if line.isEmpty && !pasting { continue }
                try await outbound.write(ByteBuffer(string: line + "\n"))
                if pasting {
                    if line == "." { pasting = false } else { continue }
                } else if line == "/paste" {
                    pasting = true
                    continue
                }
                guard let final = try await reader.readUntilFinal() else { return 1 }
                if line == "/quit" && final.hasPrefix("OK") { return 0 }
            }
        }
    }

    private func makeSSLContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile = options.caFile {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        return try NIOSSLContext(configuration: tls)
    }
}

/// Prints server output as it arrives and recognises final lines.
private struct ReplyReader {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let write: @Sendable (String) -> Void
    private var partial: [UInt8] = []
    private var lines: [String] = []

    init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, write: @escaping @Sendable (String) -> Void) {
        self.inbound = inbound
        self.write = write
    }

    /// Reads until the banner's `* type ...` hint (or any final line); false if the server refused.
    mutating func readBanner() async throws -> Bool {
        while true {
            guard let line = try await nextLine() else { return false }
            if line.hasPrefix("ERR ") { return false }
            if line.hasPrefix("* type") { return true }
        }
    }

    /// Reads up to the next final line and returns it (nil when the server closed).
    mutating func readUntilFinal() async throws -> String? {
        while let line = try await nextLine() {
            if line == "OK" || line.hasPrefix("OK ") || line.hasPrefix("ERR ") { return line }
        }
        return nil
    }

    private mutating func nextLine() async throws -> String? {
        while lines.isEmpty {
            guard let chunk = try await inbound.next() else { return nil }
            let bytes = Array(chunk.readableBytesView)
            write(String(decoding: bytes, as: UTF8.self))
            partial += bytes
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: partial[..<newline], as: UTF8.self))
                partial.removeSubrange(...newline)
            }
        }
        return lines.removeFirst()
    }
}
