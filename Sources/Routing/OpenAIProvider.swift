// A provider for any OpenAI-compatible `/v1/chat/completions` server with SSE streaming: vLLM,
// llama.cpp server, Ollama, LocalAI inside the network (`vpc`), or a third-party API (`external`).
//
// Timeouts: `connect` bounds the TCP (and TLS) set-up; `read` bounds every silence on the wire,
// before the head and between chunks, so a stalled server is detected mid-reply too; `total` bounds
// the whole call. Retries with exponential backoff happen only before the first text piece: once the
// user has seen part of a reply, a retry would duplicate it, so a later failure ends the call.
//
// The API key is read once at start-up from a file or an environment variable, kept in this
// object only, sent only in the `Authorization` header, and never put in a log, an error or a
// description.
internal import AsyncHTTPClient
internal import Foundation
internal import Inference
internal import NIOCore
internal import NIOHTTP1
internal import Policy

/// Where an HTTP provider's API key comes from.
public enum APIKeySource: Sendable, Equatable {
    case none
    /// A file holding the key (surrounding whitespace is trimmed).
    case file(String)
    /// An environment variable holding the key.
    case environment(String)

    /// Reads the key; a missing file or variable is a configuration error that names the source.
    func load() throws(RoutingError) -> String? {
        switch self {
        case .none:
            return nil
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path),
                let text = String(data: data, encoding: .utf8)
            else { throw RoutingError.provider(.configuration, "cannot read the API key file \(path)") }
            let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else { throw RoutingError.provider(.configuration, "the API key file \(path) is empty") }
            return key
        case .environment(let name):
            guard let key = ProcessInfo.processInfo.environment[name], !key.isEmpty else {
                throw RoutingError.provider(.configuration, "the environment variable \(name) is not set")
            }
            return key
        }
    }
}

/// Settings of one OpenAI-compatible provider.
public struct OpenAIProviderSettings: Sendable {
    /// Base URL up to and including `/v1` (e.g. `http://10.0.0.5:8000/v1`).
    public var baseURL: String
    public var apiKey: APIKeySource
    public var connectTimeout: Duration
    public var readTimeout: Duration
    public var totalTimeout: Duration
    /// Extra attempts after the first, before any text arrived.
    public var retries: Int
    /// Backoff before retry n (0-based) is `retryBackoff * 2^n`.
    public var retryBackoff: Duration

    public init(
        baseURL: String, apiKey: APIKeySource = .none, connectTimeout: Duration = .seconds(5),
        readTimeout: Duration = .seconds(60), totalTimeout: Duration = .seconds(600), retries: Int = 2,
        retryBackoff: Duration = .milliseconds(200)
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.totalTimeout = totalTimeout
        self.retries = retries
        self.retryBackoff = retryBackoff
    }
}

/// An OpenAI-compatible streaming chat provider. Call ``shutdown()`` before releasing it; a provider
/// released without it closes its connections in the background rather than stopping the process.
public final class OpenAIProvider: ChatProvider, CustomStringConvertible {
    public let info: ProviderInfo
    public let settings: OpenAIProviderSettings
    private let client: HTTPClient
    private let completionsURL: String
    private let modelsURL: String
    private let apiKey: String?

    /// Creates the provider and its HTTP client; reads the API key now so a bad key source fails at load.
    public init(info: ProviderInfo, settings: OpenAIProviderSettings) throws(RoutingError) {
        var base = settings.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme),
            url.host != nil
        else { throw RoutingError.provider(.configuration, "base_url must be an http(s) URL") }
        self.info = info
        self.settings = settings
        self.apiKey = try settings.apiKey.load()
        completionsURL = base + "/chat/completions"
        modelsURL = base + "/models"
        var configuration = HTTPClient.Configuration(
            timeout: .init(
                connect: Self.timeAmount(settings.connectTimeout), read: Self.timeAmount(settings.readTimeout))
        )
        // We retry ourselves (bounded, only before the first token); the pool's own retry loop
        // would keep a refused connection waiting until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit {
        // A second shutdown only reports `alreadyShutdown` to a future nobody reads.
        _ = client.shutdown()
    }

    /// Closes the HTTP client's connections; the provider must not be used afterwards.
    public func shutdown() async {
        try? await client.shutdown()
    }

    public var description: String { "OpenAIProvider(\(info.name), \(info.residency.rawValue), \(info.model))" }

    public func health() async -> Bool {
        var request = HTTPClientRequest(url: modelsURL)
        request.method = .GET
        authorize(&request)
        do {
            let response = try await client.execute(request, timeout: Self.timeAmount(settings.connectTimeout) * 2)
            _ = try? await response.body.collect(upTo: 1 << 20)
            return response.status.code < 500
        } catch {
            return false
        }
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        AsyncThrowingStream { continuation in
            // The protocol hands back a stream synchronously, so the HTTP exchange runs in a task that
            // the stream owns: it is cancelled as soon as the consumer stops or is itself cancelled.
            let task = Task {
                do {
                    try await self.run(request) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: Self.classify(error, afterHead: true))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// One call with retries before the first text piece.
    private func run(_ request: ChatRequest, emit: (ProviderEvent) -> Void) async throws {
        let body = try OpenAIChatBody(model: info.model, request: request).encoded()
        var retry = 0
        let deadline = NIODeadline.now() + Self.timeAmount(settings.totalTimeout)
        while true {
            var sentText = false
            do {
                try await attempt(body: body, deadline: deadline) { event in
                    if case .text = event { sentText = true }
                    emit(event)
                }
                return
            } catch {
                let failure = Self.classify(error, afterHead: false)
                guard !sentText, failure.providerFailure?.isRetryable == true, retry < settings.retries,
                    !Task.isCancelled
                else {
                    throw failure
                }
                try await Task.sleep(for: settings.retryBackoff * (1 << retry))
                retry += 1
            }
        }
    }

    private func attempt(body: [UInt8], deadline: NIODeadline, emit: (ProviderEvent) -> Void) async throws {
        var request = HTTPClientRequest(url: completionsURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        authorize(&request)
        request.body = .bytes(body)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: deadline)
        } catch {
            throw Self.classify(error, afterHead: false)
        }
        guard response.status == .ok else {
            _ = try? await response.body.collect(upTo: 64 * 1024)  // drained, never logged: may echo input
            let status = Int(response.status.code)
            let transient = status >= 500 || status == 429 || status == 408
            throw RoutingError.provider(transient ? .httpStatus : .rejected, "HTTP \(status)")
        }
        var parser = SSEParser()
        var decoder = OpenAIChunkDecoder()
        do {
            for try await buffer in response.body {
                for event in try parser.feed(buffer.readableBytesView) {
                    for providerEvent in try decoder.decode(event) { emit(providerEvent) }
                }
            }
        } catch {
            throw Self.classify(error, afterHead: true)
        }
        guard decoder.isComplete, !parser.hasPendingInput || decoder.sawDone else {
            throw RoutingError.provider(.streamCut, "the stream ended before the reply finished")
        }
    }

    private func authorize(_ request: inout HTTPClientRequest) {
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer " + apiKey) }
    }

    /// Maps transport errors to stable provider codes without quoting anything the server sent.
    static func classify(_ error: any Error, afterHead: Bool) -> RoutingError {
        if let error = error as? RoutingError { return error }
        if error is CancellationError { return RoutingError.provider(.cancelled) }
        if let error = error as? HTTPClientError {
            switch error {
            case .readTimeout, .connectTimeout, .deadlineExceeded, .tlsHandshakeTimeout,
                .getConnectionFromPoolTimeout:
                return RoutingError.provider(.timeout, "\(error)")
            case .cancelled:
                return RoutingError.provider(.cancelled)
            case .remoteConnectionClosed:
                return RoutingError.provider(afterHead ? .streamCut : .down, "connection closed by the server")
            default:
                break
            }
        }
        if afterHead { return RoutingError.provider(.streamCut, "transport failed mid-stream") }
        return RoutingError.provider(.down, "cannot connect")
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
