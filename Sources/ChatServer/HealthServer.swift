// The operator's listener: HTTP/1.1 on a port of its own (loopback by default), apart from the chat port
// so a supervisor, a load balancer and Prometheus reach it without a chat account. It answers
// `GET /healthz` (the process serves), `GET /readyz` (every readiness check passes; the failing ones are
// named) and `GET /metrics` (Prometheus text). It knows nothing of what it reports: the executable hands
// it the checks and the metrics text, so this module depends on no metrics backend. One request per
// connection (`Connection: close`), a few seconds to send it, a bounded number of connections at once.
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
public import ServiceLifecycle
import Synchronization

/// One readiness check's result: its name, and what is wrong (nil when it passes).
public struct ReadinessCheck: Sendable, Equatable {
    public var name: String
    public var problem: String?

    public init(name: String, problem: String? = nil) {
        self.name = name
        self.problem = problem
    }
}

/// What the health listener reports, supplied by the executable.
public struct HealthEndpoints: Sendable {
    /// Runs every readiness check.
    public var readiness: @Sendable () async -> [ReadinessCheck]
    /// The metrics in Prometheus text format (version 0.0.4).
    public var metrics: @Sendable () -> String

    public init(
        readiness: @escaping @Sendable () async -> [ReadinessCheck], metrics: @escaping @Sendable () -> String
    ) {
        self.readiness = readiness
        self.metrics = metrics
    }
}

/// The health listener's address and transport.
public struct HealthListenerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Served over TLS with these files (the chat port's certificate), else plain HTTP.
    public var tls: ServerConfiguration.TLSFiles?
    /// Allows a non-loopback address without TLS (as the chat port's `insecure_bind`).
    public var allowInsecureBind: Bool

    public init(
        host: String = "127.0.0.1", port: Int = 7879, tls: ServerConfiguration.TLSFiles? = nil,
        allowInsecureBind: Bool = false
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.allowInsecureBind = allowInsecureBind
    }

    public var isLoopback: Bool { ServerConfiguration.isLoopback(host) }
}

/// The HTTP listener for `/healthz`, `/readyz` and `/metrics`, as a ServiceLifecycle service.
public final class HealthServer: Service {
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private let endpoints: HealthEndpoints
    private let logger: Logger
    private let listener: NIOAsyncChannel<Connection, Never>
    private let open = Atomic<Int>(0)
    /// Connections served at once; more are closed unanswered (a scraper needs one).
    static let maxConnections = 32
    /// How long a client has to send its request and read the answer.
    static let requestTimeout = TimeAmount.seconds(10)

    /// The port actually bound (useful when the configuration asked for 0).
    public let port: Int

    /// Binds the listener. Throws `ChatServerError.insecureBind` for a non-loopback address without TLS
    /// unless `allowInsecureBind` is set.
    public init(configuration: HealthListenerConfiguration, endpoints: HealthEndpoints, logger: Logger) async throws {
        guard configuration.tls != nil || configuration.isLoopback || configuration.allowInsecureBind else {
            throw ChatServerError.insecureBind(configuration.host)
        }
        let sslContext = try configuration.tls.map(ChatServer.makeSSLContext)
        self.endpoints = endpoints
        self.logger = logger
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext { try pipeline.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        port = listener.channel.localAddress?.port ?? configuration.port
    }

    /// Serves until graceful shutdown (or cancellation).
    public func run() async throws {
        logger.info("health.listening", metadata: ["health.port": "\(port)"])
        try await withGracefulShutdownHandler {
            try await listener.acceptEach { await self.serve($0) }
        } onGracefulShutdown: {
            self.listener.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        defer { open.subtract(1, ordering: .relaxed) }
        guard open.add(1, ordering: .relaxed).newValue <= Self.maxConnections else {
            try? await channel.close()
            return
        }
        let cut = channel.eventLoop.scheduleTask(in: Self.requestTimeout) { channel.close(promise: nil) }
        defer { cut.cancel() }
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let request): head = request
                case .body: continue
                case .end:
                    guard let head else { return }
                    let (status, type, body) = await answer(head)
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: type)
                    headers.add(name: "Content-Length", value: String(body.utf8.count))
                    headers.add(name: "Connection", value: "close")
                    headers.add(name: "Cache-Control", value: "no-store")
                    try await outbound.write(
                        .head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                    if head.method != .HEAD {
                        try await outbound.write(.body(.byteBuffer(channel.allocator.buffer(string: body))))
                    }
                    try await outbound.write(.end(nil))
                    return
                }
            }
        }
    }

    /// The status, content type and body for one request.
    private func answer(_ head: HTTPRequestHead) async -> (HTTPResponseStatus, String, String) {
        let text = "text/plain; charset=utf-8"
        guard head.method == .GET || head.method == .HEAD else {
            return (.methodNotAllowed, text, "only GET and HEAD\n")
        }
        switch head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri {
        case "/healthz":
            return (.ok, text, "ok\n")
        case "/readyz":
            let checks = await endpoints.readiness()
            let failing = checks.filter { $0.problem != nil }
            let lines = checks.map { check in
                check.problem.map { "fail \(check.name): \($0)" } ?? "ok \(check.name)"
            }
            let body = (failing.isEmpty ? "ready" : "not ready") + "\n" + lines.joined(separator: "\n") + "\n"
            return (failing.isEmpty ? .ok : .serviceUnavailable, text, body)
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", endpoints.metrics())
        default:
            return (.notFound, text, "not found: /healthz, /readyz and /metrics are served here\n")
        }
    }
}
