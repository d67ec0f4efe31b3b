// A recording OpenAI-compatible server on loopback: the stand-in for `vpc` and `external` providers.
// It keeps every request body it receives (the leak test searches them) and answers
// `POST /v1/chat/completions` with an SSE stream, or with the fault the test asks for: HTTP 500, a
// stall past the client's read timeout, malformed SSE, a stream that stops midway, or a first piece
// held back until the test releases the rest (proof that streaming is not buffered).
// It lives in the shared test-support target so both the routing tests and the end-to-end tests of
// the `enclave` binary can start one.
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// How the recorder answers one request.
public enum RecorderBehaviour: Sendable, Equatable {
    /// A normal streamed reply of these pieces, then usage and `[DONE]`.
    case reply([String])
    /// HTTP 500 with a JSON error body.
    case fail
    /// HTTP 401: the provider refuses the request.
    case reject
    /// Send the head and one piece, then nothing (until the server stops).
    case stall
    /// Send nothing at all, not even the head (a server slower than the client's read timeout).
    case hang
    /// Send the head, one good piece, then a payload that is not JSON.
    case malformed
    /// Send the head and one piece, then close the connection.
    case cut
    /// Send the head and the first piece; the rest only after ``RecordingServer/release()``.
    case gated([String])
    /// A normal streamed reply of these pieces, begun only after this many milliseconds (a slow provider).
    case delayed(milliseconds: Int, [String])
}

/// One received request.
public struct RecordedRequest: Sendable {
    public var method: String
    public var uri: String
    public var authorization: String?
    public var body: String
}

public final class RecordingServer: Sendable {
    private struct State {
        var requests: [RecordedRequest] = []
        var script: [RecorderBehaviour] = []
        var fallback: RecorderBehaviour = .reply(["Hello", ", ", "world", "!"])
        var rule: (@Sendable (String) -> RecorderBehaviour?)?
        var gated: [@Sendable () -> Void] = []
        var releasedBeforeFirstPiece = false
        var gateSentRest = false
    }

    /// The server, once bound (the channel initializer needs it before `start` returns).
    private final class Box: Sendable {
        let server = Mutex<RecordingServer?>(nil)
    }

    private let state = Mutex(State())
    private let channel: any Channel
    public let port: Int

    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    /// Starts a server on an ephemeral loopback port.
    public static func start(port: Int = 0) async throws -> RecordingServer {
        let box = Box()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    let server = box.server.withLock { $0 }!
                    try channel.pipeline.syncOperations.addHandler(RecorderHandler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        let server = RecordingServer(channel: channel)
        box.server.withLock { $0 = server }
        return server
    }

    public func stop() async throws {
        try await channel.close()
    }

    /// Closes the listening socket without waiting, for synchronous clean-up paths such as `defer`.
    public func stopSoon() {
        channel.close(promise: nil)
    }

    /// Behaviours for the next requests, in order; afterwards the default.
    public func script(_ behaviours: [RecorderBehaviour]) { state.withLock { $0.script = behaviours } }

    /// A rule that picks the behaviour from the request body (nil: script, then default).
    public func setRule(_ rule: @escaping @Sendable (String) -> RecorderBehaviour?) {
        state.withLock { $0.rule = rule }
    }

    /// The default behaviour once the script is used up.
    public func setDefault(_ behaviour: RecorderBehaviour) { state.withLock { $0.fallback = behaviour } }

    public var requests: [RecordedRequest] { state.withLock { $0.requests } }
    public var completionRequests: [RecordedRequest] { requests.filter { $0.uri.hasSuffix("/chat/completions") } }

    /// Whether the rest of a gated reply had been sent.
    public var gateSentRest: Bool { state.withLock { $0.gateSentRest } }

    /// Sends the rest of every gated reply.
    public func release() {
        let pending = state.withLock { state in
            defer { state.gated.removeAll() }
            return state.gated
        }
        for send in pending { send() }
    }

    fileprivate func received(_ request: RecordedRequest) -> RecorderBehaviour {
        let rule = state.withLock { state in
            state.requests.append(request)
            return state.rule
        }
        if let behaviour = rule?(request.body) { return behaviour }
        return state.withLock { state in state.script.isEmpty ? state.fallback : state.script.removeFirst() }
    }

    fileprivate func hold(_ send: @escaping @Sendable () -> Void) {
        state.withLock { $0.gated.append(send) }
    }

    fileprivate func markGateSent() { state.withLock { $0.gateSentRest = true } }
}

/// Frames of the SSE answer.
public enum SSEFrames {
    public static func chunk(_ piece: String, finish: Bool = false) -> String {
        let content = String(data: try! JSONEncoder().encode(piece), encoding: .utf8)!
        let reason = finish ? "\"stop\"" : "null"
        return "data: {\"id\":\"rec\",\"object\":\"chat.completion.chunk\",\"model\":\"recorder-model\","
            + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\(content)},\"finish_reason\":\(reason)}]}\n\n"
    }

    public static func finish(promptTokens: Int, completionTokens: Int) -> String {
        "data: {\"id\":\"rec\",\"model\":\"recorder-model\","
            + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
            + "data: {\"id\":\"rec\",\"model\":\"recorder-model\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":\(promptTokens),"
            + "\"completion_tokens\":\(completionTokens),\"total_tokens\":\(promptTokens + completionTokens)}}\n\n"
            + "data: [DONE]\n\n"
    }
}

private final class RecorderHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: RecordingServer
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(server: RecordingServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            let request = RecordedRequest(
                method: "\(head.method)", uri: head.uri, authorization: head.headers.first(name: "Authorization"),
                body: String(buffer: body))
            respond(to: request, channel: context.channel, keepAlive: head.isKeepAlive)
        }
    }

    private func respond(to request: RecordedRequest, channel: any Channel, keepAlive: Bool) {
        guard request.uri.hasSuffix("/chat/completions") else {
            _ = server.received(request)
            send(channel, status: .ok, json: "{\"object\":\"list\",\"data\":[{\"id\":\"recorder-model\"}]}")
            return
        }
        let server = server
        switch server.received(request) {
        case .reply(let pieces):
            streamReply(channel, pieces)
        case .delayed(let milliseconds, let pieces):
            channel.eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds))) { [self] in
                streamReply(channel, pieces)
            }
        case .fail:
            send(channel, status: .internalServerError, json: "{\"error\":{\"message\":\"boom\",\"code\":500}}")
        case .reject:
            send(channel, status: .unauthorized, json: "{\"error\":{\"message\":\"bad key\",\"code\":401}}")
        case .stall:
            streamHead(channel)
            write(channel, SSEFrames.chunk("Hel"))
        case .hang:
            break
        case .malformed:
            streamHead(channel)
            write(channel, SSEFrames.chunk("Hel"))
            write(channel, "data: {this is not json\n\n")
            channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        case .cut:
            streamHead(channel)
            write(channel, SSEFrames.chunk("Hel")).whenComplete { _ in channel.close(promise: nil) }
        case .gated(let pieces):
            streamHead(channel)
            write(channel, SSEFrames.chunk(pieces[0]))
            server.hold {
                server.markGateSent()
                for piece in pieces.dropFirst() { Self.write(channel, SSEFrames.chunk(piece)) }
                Self.write(channel, SSEFrames.finish(promptTokens: 11, completionTokens: pieces.count))
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
            }
        }
    }

    /// The head, every piece, the usage (11 prompt tokens, one completion token per piece) and the end.
    private func streamReply(_ channel: any Channel, _ pieces: [String]) {
        streamHead(channel)
        for piece in pieces { write(channel, SSEFrames.chunk(piece)) }
        write(channel, SSEFrames.finish(promptTokens: 11, completionTokens: pieces.count))
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }

    private func streamHead(_ channel: any Channel) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-cache")
        channel.write(
            HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)),
            promise: nil)
    }

    @discardableResult
    private func write(_ channel: any Channel, _ text: String) -> EventLoopFuture<Void> { Self.write(channel, text) }

    @discardableResult
    private static func write(_ channel: any Channel, _ text: String) -> EventLoopFuture<Void> {
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text))))
    }

    private func send(_ channel: any Channel, status: HTTPResponseStatus, json: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(json.utf8.count)")
        channel.write(
            HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)),
            promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: json))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }
}

@available(*, unavailable)
extension RecorderHandler: Sendable {}
