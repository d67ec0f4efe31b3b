// Scripted providers for the tests, behind the real gateway (router, context assembler, call records,
// circuit breakers): the only fake on the model side is the `ChatProvider` itself. Test support only.
import ChatCore
import Foundation
import Inference
public import Policy
public import Routing

/// A provider whose replies a closure streams. Its context (32768 tokens by the estimate) holds the longest
/// line the protocol takes, so no test of the transport meets the context rule by accident.
public struct TestProvider: ChatProvider {
    public let info: ProviderInfo
    private let reply: @Sendable (ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error>

    public init(
        name: String, residency: Residency = .onPrem, model: String = "echo-1",
        reply: @escaping @Sendable (ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error>
    ) {
        info = ProviderInfo(name: name, residency: residency, model: model, contextLength: 32_768)
        self.reply = reply
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> { reply(request) }

    public func health() async -> Bool { true }

    /// Answers with the user's last message, word by word (at most `maxTokens` words): Enclave's overhead
    /// without a model.
    public static func echo(name: String = "echo", residency: Residency = .onPrem, model: String = "echo-1")
        -> TestProvider
    {
        TestProvider(name: name, residency: residency, model: model) { request in
            let last = request.messages.last(where: { $0.role == .user })?.content ?? ""
            let words = Array(last.split(separator: " ", omittingEmptySubsequences: false).prefix(request.maxTokens))
            return AsyncThrowingStream { continuation in
                for (index, word) in words.enumerated() {
                    continuation.yield(.text(index == 0 ? String(word) : " " + word))
                }
                continuation.yield(.usage(tokensIn: last.split(separator: " ").count, tokensOut: words.count))
                continuation.finish()
            }
        }
    }

    /// Streams `words` words (` w0`, ` w1`, ...) with `pause` before each (or after each, when
    /// `pauseFirst` is false), until cancelled.
    public static func paced(name: String, words: Int, pause: Duration, pauseFirst: Bool = true) -> TestProvider {
        TestProvider(name: name) { _ in
            AsyncThrowingStream { continuation in
                let task = Task {
                    for index in 0..<words {
                        if pauseFirst { try? await Task.sleep(for: pause) }
                        guard !Task.isCancelled else { break }
                        continuation.yield(.text(" w\(index)"))
                        if !pauseFirst { try? await Task.sleep(for: pause) }
                    }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            }
        }
    }

    /// The production gateway over this provider alone, with an empty system prompt (`<name>.v1`).
    public var gateway: ProviderGateway {
        ProviderGateway(
            providers: [self], defaultProvider: info.name, systemPrompt: "", promptVersion: info.name + ".v1")
    }
}
