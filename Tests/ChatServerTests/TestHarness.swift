// Test scaffolding: a ChatServer on a free loopback port over a real Store and AuditLog in a temporary
// directory, and a line client over a real TCP socket (NIO), reading until each final line.
import Audit
import ChatCore
import ChatCoreTestSupport
import Foundation
import Logging
import NIOCore
import NIOPosix
import Routing
import ServiceLifecycle
import Storage
import Testing

@testable import ChatServer

/// The back ends plus a running server.
struct TestServer {
    let server: ChatServer
    let backends: TestBackends
    /// The real policy gate over the on-prem-only test policy.
    let policy: PolicyDirectoryGate
    var audit: HookedAudit { backends.audit }
    var store: Store { backends.store }

    /// Every audit record's event so far, oldest first.
    func events() throws -> [AuditEvent] { try backends.events() }

    static let users = [
        UserRecord(name: "alice", role: .staff, groups: ["ward3"], passwordHash: "test:alice-password"),
        UserRecord(name: "bob", role: .staff, groups: [], passwordHash: "test:bob-password-1"),
        UserRecord(name: "carol", role: .compliance, groups: [], passwordHash: "test:carol-password"),
        UserRecord(name: "root", role: .admin, groups: [], passwordHash: "test:root-password"),
        UserRecord(name: "dave", role: .staff, groups: [], passwordHash: "test:dave-password", disabled: true),
    ]

    /// Starts a server, runs `body`, then shuts it down gracefully.
    static func with(
        configure: (inout ServerConfiguration) -> Void = { _ in },
        core coreConfiguration: ChatCore.Configuration = ChatCore.Configuration(),
        gateway: ProviderGateway = TestProvider.echo().gateway,
        logger: Logger? = nil,
        _ body: (TestServer) async throws -> Void
    ) async throws {
        let backends = try await TestBackends(users: users)
        let policy = try await backends.policy()
        let core = ChatCore(
            store: backends.store, passwords: TestPasswords(), policy: policy, gateway: gateway,
            audit: backends.audit, configuration: coreConfiguration)
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.timerResolution = .milliseconds(100)
        configure(&configuration)
        var logger = logger ?? Logger(label: "test")
        if logger.logLevel < .warning { logger.logLevel = .warning }
        let server = try await ChatServer(configuration: configuration, core: core, version: "test", logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(
                    TestServer(server: server, backends: backends, policy: policy))
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// Connects a client, reads the banner, runs `body`.
    func client<T>(_ body: (inout AsyncLineClient) async throws -> T) async throws -> T {
        try await AsyncLineClient.with(port: server.port, body)
    }
}

/// A line-oriented client over a real loopback TCP connection.
struct AsyncLineClient {
    typealias Channel = NIOAsyncChannel<InboundFrame, ByteBuffer>

    var lines: NIOAsyncChannelInboundStream<InboundFrame>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// The banner lines read on connect.
    var banner: [String] = []

    /// - Parameter halfClose: finishing the outbound writer sends FIN, as `nc` does at the end of its input,
    ///   so a server closing the connection sees the end of input at once instead of draining for 2 s.
    static func connect(port: Int, receiveBuffer: Int? = nil, halfClose: Bool = false) async throws -> Channel {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        return
            try await bootstrap
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(BoundedLineDecoder(limit: LineLimit(1 << 20))))
                    return try Channel(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: halfClose))
                }
            }
    }

    static func with<T>(port: Int, readBanner: Bool = true, _ body: (inout AsyncLineClient) async throws -> T)
        async throws -> T
    {
        let channel = try await connect(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            var client = AsyncLineClient(lines: inbound.makeAsyncIterator(), outbound: outbound)
            if readBanner { client.banner = try await client.readUntil { !$0.hasPrefix("* type") } }
            return try await body(&client)
        }
    }

    func send(_ line: String) async throws {
        try await outbound.write(ByteBuffer(string: line + "\n"))
    }

    func sendRaw(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// The next line, or nil when the server closed the connection.
    mutating func readLine() async throws -> String? {
        guard let frame = try await lines.next() else { return nil }
        guard case .line(let buffer) = frame else { return nil }
        return String(decoding: buffer.readableBytesView, as: UTF8.self)
    }

    /// Lines up to and including the first for which `isLast` is false... i.e. reads while `keepGoing`.
    mutating func readUntil(_ keepGoing: (String) -> Bool) async throws -> [String] {
        var out: [String] = []
        while let line = try await readLine() {
            out.append(line)
            if !keepGoing(line) { break }
        }
        return out
    }

    /// Reads lines up to and including the next final line (`OK...` / `ERR ...`).
    mutating func readReply() async throws -> [String] {
        try await readUntil { !AsyncLineClient.isFinal($0) }
    }

    /// Sends a line and returns every line up to and including its final line.
    mutating func exchange(_ line: String) async throws -> [String] {
        try await send(line)
        return try await readReply()
    }

    /// Sends a line and returns only its final line.
    mutating func final(_ line: String) async throws -> String {
        try await exchange(line).last ?? "(closed)"
    }

    static func isFinal(_ line: String) -> Bool {
        line == "OK" || line.hasPrefix("OK ") || line.hasPrefix("ERR ")
    }

    mutating func login(_ user: String, _ password: String) async throws {
        let reply = try await final("/login \(user) \(password)")
        try #require(reply.hasPrefix("OK "), "login failed: \(reply)")
    }
}
