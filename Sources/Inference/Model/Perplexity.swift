// Perplexity exactly as llama.cpp's llama-perplexity computes it, so the figures compare: the token
// stream is cut into chunks of `context` tokens, each chunk is evaluated from an empty cache with its
// first token replaced by BOS when the model adds one, and only the second half of each chunk is scored
// (positions context/2 ..< context-1, each predicting the next token). Leftover tokens are ignored.
import Foundation

/// The result of a perplexity run.
public struct PerplexityResult: Sendable, Equatable {
    public var perplexity: Double
    public var chunks: Int
    /// Tokens whose probability was scored.
    public var scoredTokens: Int
}

extension TransformerModel {
    /// Perplexity of `tokens` in chunks of `context` (see the file comment for the exact rule).
    public func perplexity(of tokens: [Int32], context: Int, bos: Int32?) throws(InferenceError) -> PerplexityResult {
        guard context >= 4 else { throw .badParameter(key: "ctx", reason: "must be at least 4") }
        let chunks = tokens.count / context
        guard chunks > 0 else {
            throw .badParameter(
                key: "ctx", reason: "the text has \(tokens.count) tokens, fewer than one chunk of \(context)")
        }
        let first = context / 2
        var negativeLogLikelihood = 0.0
        var count = 0
        for c in 0..<chunks {
            var chunk = Array(tokens[c * context..<(c + 1) * context])
            if let bos { chunk[0] = bos }
            let cache = makeCache(capacity: context)
            try evaluate(chunk, cache: cache, logitsFrom: first) { i, logits in
                guard i < context - 1 else { return }
                let target = Int(tokens[c * context + i + 1])
                var maximum = -Float.infinity
                for v in logits { maximum = max(maximum, v) }
                var sum = 0.0
                for v in logits { sum += exp(Double(v - maximum)) }
                negativeLogLikelihood += log(sum) + Double(maximum) - Double(logits[target])
                count += 1
            }
        }
        return PerplexityResult(
            perplexity: exp(negativeLogLikelihood / Double(count)), chunks: chunks, scoredTokens: count)
    }
}
