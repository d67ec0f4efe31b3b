// Binds ChatCore's ModelGateway to the Routing library: lists the providers for policy and
// `/models`, lets the Router choose inside the allowed set (the user's `/model`, refused when not
// allowed; else the conversation's sticky provider; else the canary arm; else the configured
// default; else the first allowed), fits the conversation into the provider's context with the
// system prompt, and streams its events.
import Foundation
import Inference
import Policy
public import Routing

/// Routing's providers as ChatCore's `ModelGateway`.
public struct ProviderGateway: ModelGateway {
    public let chatProviders: [any ChatProvider]
    public let defaultProvider: String
    /// The system prompt sent first, and its name/version for the audit record.
    public let systemPrompt: String?
    public let promptVersion: String
    /// The pure router over `chatProviders`; every choice goes through it.
    public let router: Router
    private let byName: [String: any ChatProvider]

    public init(
        providers: [any ChatProvider], defaultProvider: String, systemPrompt: String?, promptVersion: String,
        canary: CanaryConfiguration? = nil
    ) {
        self.chatProviders = providers
        self.defaultProvider = defaultProvider
        self.systemPrompt = systemPrompt
        self.promptVersion = promptVersion
        byName = Dictionary(providers.map { ($0.info.name, $0) }, uniquingKeysWith: { first, _ in first })
        router = Router(providers: providers.map(\.info), defaultProvider: defaultProvider, canary: canary)
    }

    public func providers() -> [ProviderSummary] {
        chatProviders.map { Self.summary($0.info) }
    }

    private static func summary(_ info: ProviderInfo) -> ProviderSummary {
        ProviderSummary(name: info.name, residency: info.residency.rawValue, region: info.region, modelID: info.model)
    }

    /// The router's plan for the message; nil when it refuses (a denied `/model` choice is never silently
    /// replaced) or no allowed provider is registered.
    public func choose(decision: GateDecision, requested: String?, sticky: String?, conversation: String)
        -> ProviderSummary?
    {
        let routed = Decision(
            allowed: decision.allowed, denied: decision.denied, rule: decision.rule, reason: decision.reason,
            tags: decision.tags)
        let request = RouteRequest(
            conversation: conversation, user: "", requestedProvider: requested, stickyProvider: sticky)
        guard let plan = try? router.plan(request, decision: routed), let provider = byName[plan.primary] else {
            return nil
        }
        return Self.summary(provider.info)
    }

    public func stream(provider name: String, turns: [PromptTurn], maxTokens: Int)
        -> AsyncThrowingStream<GatewayEvent, any Error>
    {
        guard let provider = byName[name], let last = turns.last else {
            return AsyncThrowingStream { $0.finish(throwing: ChatFailure(.providerUnavailable, "unknown provider")) }
        }
        let chatTurns = turns.dropLast().map(Self.turn)
        let context: AssembledContext
        do {
            context = try ContextAssembler.assemble(
                system: systemPrompt, history: Array(chatTurns), message: Self.turn(last),
                contextLength: provider.info.contextLength, replyTokens: maxTokens, count: provider.countTokens)
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
        let upstream = provider.stream(ChatRequest(messages: context.turns, maxTokens: maxTokens))
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await event in upstream {
                        switch event {
                        case .text(let text): continuation.yield(.text(text))
                        case .usage(let tokensIn, let tokensOut):
                            continuation.yield(.usage(tokensIn: tokensIn, tokensOut: tokensOut))
                            if tokensOut >= maxTokens { continuation.yield(.stopped("max-tokens")) }
                        case .model: break
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private static func turn(_ turn: PromptTurn) -> ChatTurn {
        let role: ChatRole =
            switch turn.role {
            case "assistant": .assistant
            case "system": .system
            default: .user
            }
        return ChatTurn(role: role, content: turn.content)
    }
}
