// The chat server: binds (TLS optional), accepts connections into a discarding task group (one child
// task per connection, so finished connections free their memory), enforces the connection limits,
// and runs each connection's session. It is a ServiceLifecycle `Service`: on graceful shutdown it
// stops accepting, lets in-flight replies end with a notice and a final line, and returns.
public import ChatCore
import Foundation
public import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle
import Storage
import Synchronization

/// The line-protocol server over SwiftNIO.
public final class ChatServer: Service {
    private typealias Connection = NIOAsyncChannel<InboundFrame, ByteBuffer>

    /// A connection as the child channel initializer hands it to its task.
    private struct Accepted: Sendable {
        var connection: Connection
        var state: ConnectionState
        var lineLimit: LineLimit
    }

    private let configuration: ServerConfiguration
    private let core: ChatCore
    private let logger: Logger
    private let version: String
    private let listener: NIOAsyncChannel<Accepted, Never>
    private let registry = ConnectionRegistry()

    /// The port actually bound (useful when the configuration asked for 0).
    public let port: Int

    /// Connections currently open and admitted.
    public var connectionCount: Int { registry.count }

    /// Binds the listening socket. Throws `ChatServerError.insecureBind` for a non-loopback address
    /// without TLS unless `allowInsecureBind` is set.
    public init(
        configuration: ServerConfiguration, core: ChatCore, version: String, logger: Logger
    ) async throws {
        guard configuration.tls != nil || configuration.isLoopback || configuration.allowInsecureBind else {
            throw ChatServerError.insecureBind(configuration.host)
        }
        let sslContext = try configuration.tls.map(Self.makeSSLContext)
        self.configuration = configuration
        self.core = core
        self.logger = logger
        self.version = version
        let limits = configuration
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that half-closes after sending (`printf ... | nc -N`) still gets every answer.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // A small kernel send buffer: a chat stream needs little, and a client that stops reading
            // then blocks our writes (and trips the stall timeout) after ~128 KiB instead of megabytes.
            .childChannelOption(.socketOption(.so_sndbuf), value: 64 * 1024)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 16 * 1024, high: 64 * 1024))
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let state = ConnectionState(eventLoop: channel.eventLoop)
                    let lineLimit = LineLimit(limits.lineLimitBeforeLogin)
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext { try pipeline.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    try pipeline.addHandler(
                        ConnectionGuardHandler(
                            state: state, idleBeforeLogin: .init(limits.idleBeforeLogin),
                            idleAfterLogin: .init(limits.idleAfterLogin), stallTimeout: .init(limits.stallTimeout),
                            tick: .init(limits.timerResolution)))
                    try pipeline.addHandler(TelnetHandler(state: state))
                    try pipeline.addHandler(ByteToMessageHandler(BoundedLineDecoder(limit: lineLimit)))
                    let connection = try Connection(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(
                            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                            isOutboundHalfClosureEnabled: true, inboundType: InboundFrame.self,
                            outboundType: ByteBuffer.self))
                    return Accepted(connection: connection, state: state, lineLimit: lineLimit)
                }
            }
        port = listener.channel.localAddress?.port ?? configuration.port
    }

    /// Serves until graceful shutdown (or cancellation), then waits for every connection to finish.
    public func run() async throws {
        logger.info("server.listening", metadata: ["server.address": "\(configuration.host):\(port)"])
        try await withGracefulShutdownHandler {
            try await listener.acceptEach(alongside: { await self.watchAccounts() }) { await self.serve($0) }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        logger.info("server.stopped")
    }

    /// Stops accepting and closes idle connections; busy ones close after their final line.
    public func beginShutdown() {
        let idle = registry.beginShutdown()
        listener.channel.close(promise: nil)
        for channel in idle { Self.close(channel, notice: "server shutting down") }
    }

    /// Writes an unprompted notice to an idle connection, then closes it.
    private static func close(_ channel: any Channel, notice: String) {
        let line = channel.allocator.buffer(string: "* \(notice)\n")
        channel.writeAndFlush(line).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Until shutdown: whenever an account may have changed, asks ChatCore which live sessions are no
    /// longer allowed (account deleted, disabled, locked, demoted, regrouped, password changed) and ends
    /// them: an idle one at once with a notice, a busy one after its reply is cut at the next piece.
    private func watchAccounts() async {
        var seen: AccountStamp?
        while !registry.isShuttingDown {
            do {
                try await Task.sleep(for: configuration.accountCheckInterval)
            } catch {
                return
            }
            // No one logged in: nothing to end, and no query on the Store (the next session starts afresh).
            let sessions = registry.sessions()
            guard !sessions.isEmpty else {
                seen = nil
                continue
            }
            guard let stamp = await core.accountStamp(), stamp != seen,
                let ends = await core.endedSessions(sessions.map(\.principal))
            else { continue }
            var ending: [ObjectIdentifier: (end: SessionEnd, judged: Principal)] = [:]
            for (session, end) in zip(sessions, ends) {
                guard let end else { continue }
                ending[session.id] = (end, session.principal)
                logger.notice(
                    "session.ended",
                    metadata: ["user.role": "\(session.principal.role.rawValue)", "session.end": "\(end.code)"])
            }
            let (idle, stale) = registry.end(ending)
            for session in idle { Self.close(session.channel, notice: Self.endNotice(session.end)) }
            // A session that changed its own password while it was judged is judged again next time.
            seen = stale ? nil : stamp
        }
    }

    /// The notice a client reads when the server ends its session.
    static func endNotice(_ end: SessionEnd) -> String { "session ended: \(end.sentence)" }

    private func serve(_ context: Accepted) async {
        let connection = context.connection
        let channel = connection.channel
        let origin = channel.remoteAddress?.ipAddress ?? "unknown"
        let admitted = registry.admit(
            channel, state: context.state, address: origin, total: configuration.maxConnections,
            perAddress: configuration.maxConnectionsPerAddress)
        // Open connections as a gauge, and every accepted one by whether a limit refused it.
        let outcome = admitted ? "admitted" : "refused"
        Counter(label: "enclave_connections_accepted_total", dimensions: [("outcome", outcome)]).increment()
        if admitted { Meter(label: "enclave_connections").increment() }
        defer {
            if admitted {
                registry.remove(channel, address: origin)
                Meter(label: "enclave_connections").decrement()
            }
        }
        var session = Session(
            core: core, configuration: configuration, origin: origin, lineLimit: context.lineLimit,
            state: context.state, shuttingDown: { [registry] in registry.isShuttingDown }, logger: logger)
        do {
            try await connection.executeThenClose { inbound, outbound in
                let writer = LineWriter(outbound: outbound, logger: logger)
                var frames = inbound.makeAsyncIterator()
                guard admitted else {
                    try await writer.error(ChatFailure(.busy, "too many connections; try again later"))
                    return await Self.closeGracefully(channel, state: context.state, frames: &frames, outbound)
                }
                // Busy while the banner is written, so an idle timeout can never come before it.
                guard registry.markBusy(channel, context.state) else { return }
                try await writer.notice("enclave \(version) ready")
                for line in configuration.notices { try await writer.notice(line) }
                try await writer.notice("type /login <user> <password>, then chat; /help lists the commands")
                context.state.busy = false
                while let frame = try await frames.next() {
                    guard registry.markBusy(channel, context.state) else { break }
                    let next = try await session.handle(frame, writer: writer)
                    context.state.busy = false
                    if case .close = next { break }
                    if let end = context.state.sessionEnd {
                        try await writer.notice(Self.endNotice(end))
                        break
                    }
                    if registry.isShuttingDown {
                        try await writer.notice("server shutting down")
                        break
                    }
                }
                await Self.closeGracefully(channel, state: context.state, frames: &frames, outbound)
            }
        } catch {
            logger.debug("connection.error", metadata: ["error.type": "\(type(of: error))"])
        }
        if let user = session.principal {
            let reason = context.state.sessionEnd.map { "ended-\($0.code)" } ?? "disconnected"
            await core.logout(user, origin: origin, reason: reason)
        }
    }

    /// How long a closing connection's unread input is drained before the connection is cut.
    static let drainLimit = TimeAmount.seconds(2)

    /// Closes a connection so the client reads everything first: the output is shut after its last
    /// queued byte (FIN, not a reset), then input is read and dropped until the client closes its side
    /// or `drainLimit` passes. Closing a socket with unread input makes the kernel send a reset, which
    /// destroys the answer still on its way, e.g. the `ERR line-too-long` of a 64 KiB line.
    private static func closeGracefully(
        _ channel: any Channel, state: ConnectionState,
        frames: inout NIOAsyncChannelInboundStream<InboundFrame>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async {
        // Every answer reaches the kernel first: when the client has already shut its side, shutting
        // ours becomes a full close, which would drop writes still queued in the channel. (A client
        // that does not read is cut by the stall timeout, which ends these waits too.)
        _ = try? await channel.writeAndFlush(ByteBuffer()).get()
        outbound.finish()
        try? await state.outputClosed.futureResult.get()
        let cut = channel.eventLoop.scheduleTask(in: drainLimit) { channel.close(promise: nil) }
        defer { cut.cancel() }
        while (try? await frames.next()) != nil {}
    }

    static func makeSSLContext(_ files: ServerConfiguration.TLSFiles) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath).map {
                NIOSSLCertificateSource.certificate($0)
            }
            let key = try NIOSSLPrivateKey(file: files.keyPath, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw ChatServerError.tls("\(error)")
        }
    }
}
