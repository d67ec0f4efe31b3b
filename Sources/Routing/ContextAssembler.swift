// What is sent to a provider: the system prompt, as much history as fits, and the new message.
//
// Rule (documented for operators and auditors): the system prompt and the new message are always
// sent. The history is split into exchanges, each starting at a user turn; while the whole does not
// fit in `contextLength - replyTokens`, the oldest exchange is dropped whole, so no answer is ever
// sent without its question. If the system prompt and the new message alone do not fit, the call is
// refused (`bad-arguments`), never truncated mid-text. Tokens are counted by the provider: the
// engine's own tokenizer for `local`, the conservative ``TokenEstimate`` for HTTP providers.
// Policy note: the decision covers the conversation's tags, which include every earlier message's
// tags (tags only grow), so dropping history never makes a conversation look cleaner than it is.
public import Inference

/// The turns to send and what was left out.
public struct AssembledContext: Sendable, Equatable {
    public var turns: [ChatTurn]
    /// How many history turns were dropped to fit.
    public var droppedTurns: Int
    /// The token count of `turns`, as the provider counts.
    public var tokens: Int
}

/// Fits a conversation into a provider's context.
public enum ContextAssembler {
    /// - Parameters:
    ///   - replyTokens: tokens kept free for the reply (the call's `maxTokens`).
    ///   - count: the provider's token count of a list of turns.
    public static func assemble(
        system: String?, history: [ChatTurn], message: ChatTurn, contextLength: Int, replyTokens: Int,
        count: ([ChatTurn]) -> Int
    ) throws(RoutingError) -> AssembledContext {
        let head = system.map { [ChatTurn(role: .system, content: $0)] } ?? []
        let budget = contextLength - replyTokens
        let starts = exchangeStarts(history)
        func turns(droppingExchanges k: Int) -> [ChatTurn] {
            let from = k < starts.count ? starts[k] : history.count
            return head + history[from...] + [message]
        }
        let minimal = turns(droppingExchanges: starts.count)
        let minimalCount = count(minimal)
        guard minimalCount <= budget else {
            throw RoutingError.contextOverflow(tokens: minimalCount, limit: max(budget, 0))
        }
        // Counts fall as exchanges are dropped: binary search for the fewest drops that fit.
        var low = 0
        var high = starts.count
        var best = (turns: minimal, tokens: minimalCount)
        while low < high {
            let middle = (low + high) / 2
            let candidate = turns(droppingExchanges: middle)
            let tokens = count(candidate)
            if tokens <= budget {
                best = (candidate, tokens)
                high = middle
            } else {
                low = middle + 1
            }
        }
        let kept = best.turns.count - head.count - 1
        return AssembledContext(turns: best.turns, droppedTurns: history.count - kept, tokens: best.tokens)
    }

    /// Indices where exchanges start: the first turn, and every user turn after it.
    static func exchangeStarts(_ history: [ChatTurn]) -> [Int] {
        history.indices.filter { $0 == 0 || history[$0].role == .user }
    }
}
