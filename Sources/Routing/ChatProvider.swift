// The one interface every model provider implements: the in-process engine, an in-network serving
// engine and a third-party API all look alike to the router and the chat core. A provider streams
// text pieces as they are generated, then usage and the model id it reports; it never sees policy.
public import Inference
public import Policy

/// Prices of a provider, in the operator's currency per million tokens.
public struct Pricing: Sendable, Equatable {
    /// Price per million input (prompt) tokens.
    public var inputPerMillion: Double
    /// Price per million output (generated) tokens.
    public var outputPerMillion: Double

    public init(inputPerMillion: Double = 0, outputPerMillion: Double = 0) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    /// The cost of one call with these token counts.
    public func cost(tokensIn: Int, tokensOut: Int) -> Double {
        (Double(tokensIn) * inputPerMillion + Double(tokensOut) * outputPerMillion) / 1_000_000
    }
}

/// What the registry, the router and `/models` know about a provider.
public struct ProviderInfo: Sendable, Equatable {
    /// The configured name, unique in the registry (`local`, `vpc-llama`, `external-gpt`).
    public var name: String
    /// Where the provider runs; the policy decides per conversation which classes may see it.
    public var residency: Residency
    /// Optional region (`eu-west-1`), shown by `/models` and given to the policy.
    public var region: String?
    /// The configured model (a file name for `local`, the `model` field sent to an HTTP provider).
    public var model: String
    /// Price table for the call record's cost.
    public var pricing: Pricing
    /// The context window in tokens that the context assembler fits a conversation into.
    public var contextLength: Int
    /// Further `key=value` facts `/models` shows (a local model's threads and sampling defaults).
    public var settings: [String] = []

    public init(
        name: String, residency: Residency, region: String? = nil, model: String,
        pricing: Pricing = Pricing(), contextLength: Int = 4096
    ) {
        self.name = name
        self.residency = residency
        self.region = region
        self.model = model
        self.pricing = pricing
        self.contextLength = contextLength
    }

    /// The policy's view of this provider.
    public var descriptor: ProviderDescriptor {
        ProviderDescriptor(name: name, residency: residency, region: region)
    }
}

/// One chat call: the turns to send (system prompt first), the reply's token budget and how to sample.
public struct ChatRequest: Sendable, Equatable {
    public var messages: [ChatTurn]
    /// The most tokens the reply may have.
    public var maxTokens: Int
    /// How to sample; nil leaves it to the provider (the engine's configured defaults for a local model,
    /// the server's own for an HTTP provider).
    public var sampling: SamplingParameters?

    public init(messages: [ChatTurn], maxTokens: Int, sampling: SamplingParameters? = nil) {
        self.messages = messages
        self.maxTokens = maxTokens
        self.sampling = sampling
    }
}

/// What a provider's stream yields. Text pieces come in generation order; `usage` and `model` come
/// at most once each, usually at the end (an HTTP provider reports them in its last chunks).
public enum ProviderEvent: Sendable, Equatable {
    /// A piece of the reply, as generated (possibly a part of a word).
    case text(String)
    /// Token counts as the provider counted them.
    case usage(tokensIn: Int, tokensOut: Int)
    /// The model id the provider says it served (may differ from the configured one).
    case model(String)
}

/// A source of chat completions.
///
/// `stream` returns at once; work starts when the stream is iterated and stops when the consuming
/// task is cancelled or stops iterating. Failures are thrown as ``RoutingError`` with a stable code.
public protocol ChatProvider: Sendable {
    var info: ProviderInfo { get }
    /// Streams the reply to `request`.
    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error>
    /// Whether the provider is ready to serve (cheap: a loaded engine, a reachable `/v1/models`).
    func health() async -> Bool
    /// The number of tokens `turns` take in this provider's context (exact or estimated).
    func countTokens(_ turns: [ChatTurn]) -> Int
}

extension ChatProvider {
    /// Remote providers do not expose their tokenizer: estimate (see ``TokenEstimate``).
    public func countTokens(_ turns: [ChatTurn]) -> Int { TokenEstimate.count(turns) }
}

/// A conservative token estimate for providers whose tokenizer we do not have.
///
/// Rule: one token per 3 UTF-8 bytes of content, rounded up, plus 4 tokens of framing per turn and
/// 3 for the reply's opening. BPE tokenizers of current chat models average 3.5-4.5 bytes per token
/// on English and fewer on code or non-Latin scripts, so 3 over-counts slightly, which is the safe side:
/// an over-count drops an old turn too many, an under-count would overflow the provider's context.
public enum TokenEstimate {
    public static let bytesPerToken = 3
    public static let framingPerTurn = 4
    public static let replyPriming = 3

    public static func count(_ turns: [ChatTurn]) -> Int {
        turns.reduce(replyPriming) { $0 + count($1) }
    }

    public static func count(_ turn: ChatTurn) -> Int {
        (turn.content.utf8.count + bytesPerToken - 1) / bytesPerToken + framingPerTurn
    }
}
