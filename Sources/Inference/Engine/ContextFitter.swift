// ContextFitter: the documented rule for a conversation longer than the context.
//
// Rule: the prompt plus room for the reply must fit in the context, where the reply's room is
// min(maxTokens, context / 4) tokens. While it does not fit, drop the oldest turn after the system
// prompt (the system prompt is kept; the last turn is never dropped). If the system prompt and the last
// turn alone still do not fit, drop the system prompt too; if the last turn alone does not fit, fail
// with InferenceError.promptTooLong. Never truncates inside a turn, so no turn is half-read.

/// Chooses which turns of a conversation to send to the model.
struct ContextFitter {
    let contextLength: Int
    /// Tokens of the rendered prompt for these turns.
    let count: ([ChatTurn]) -> Int

    /// The fitted turns, the prompt's token count, and how many turns were dropped.
    func fit(_ turns: [ChatTurn], maxTokens: Int) throws(InferenceError) -> (
        turns: [ChatTurn], tokens: Int, dropped: Int
    ) {
        guard !turns.isEmpty else { throw .emptyConversation }
        let budget = contextLength - max(1, min(maxTokens, contextLength / 4))
        var kept = turns
        var dropped = 0
        let hasSystem = kept.first?.role == .system
        var tokens = count(kept)
        while tokens > budget, kept.count > (hasSystem ? 2 : 1) {
            kept.remove(at: hasSystem ? 1 : 0)
            dropped += 1
            tokens = count(kept)
        }
        if tokens > budget, hasSystem, kept.count == 2 {
            kept.removeFirst()
            dropped += 1
            tokens = count(kept)
        }
        guard tokens <= budget else { throw .promptTooLong(tokens: tokens, limit: budget) }
        return (kept, tokens, dropped)
    }
}
