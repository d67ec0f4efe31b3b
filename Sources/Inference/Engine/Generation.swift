// The values that cross the engine's boundary: what to generate, what comes back, and why it stopped.

/// How much to generate and how to pick tokens.
public struct GenerationParameters: Sendable, Equatable {
    /// Upper bound on generated tokens.
    public var maxTokens: Int
    /// Token selection (temperature 0 is greedy).
    public var sampling: SamplingParameters

    public init(maxTokens: Int = 512, sampling: SamplingParameters = SamplingParameters()) {
        self.maxTokens = maxTokens
        self.sampling = sampling
    }
}

/// Why generation ended.
public enum StopReason: String, Sendable, Equatable {
    /// The model produced an end-of-generation token (EOS, EOT, end of turn).
    case endOfTurn = "end-of-turn"
    /// `maxTokens` were generated.
    case maxTokens = "max-tokens"
    /// The consumer stopped listening (or the engine shut down).
    case cancelled
    /// The session's context filled up.
    case contextFull = "context-full"
}

/// Counts and outcome of one generation.
public struct GenerationSummary: Sendable, Equatable {
    /// Tokens in the (fitted) prompt.
    public var promptTokens: Int
    /// Tokens generated.
    public var generatedTokens: Int
    public var stopReason: StopReason
    /// Turns dropped from the front of the conversation to fit the context.
    public var droppedTurns: Int
    /// Prompt tokens whose keys and values came from a cache kept from an earlier turn (not evaluated).
    public var reusedTokens: Int

    public init(
        promptTokens: Int, generatedTokens: Int, stopReason: StopReason, droppedTurns: Int = 0, reusedTokens: Int = 0
    ) {
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.stopReason = stopReason
        self.droppedTurns = droppedTurns
        self.reusedTokens = reusedTokens
    }
}

/// One element of a generation stream.
public enum GenerationEvent: Sendable, Equatable {
    /// A piece of text (whole UTF-8 characters only).
    case text(String)
    /// The last event.
    case finished(GenerationSummary)
}
