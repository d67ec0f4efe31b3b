// Choosing the next token: a chain of stages over a candidate list, the same seam as llama.cpp's
// `llama_sampler_i` / `llama_sampler_chain`, run in llama.cpp's default order:
//   repetition penalty → top-k → top-p → min-p → temperature → seeded draw.
// Filtering stages see the untempered distribution, as in llama.cpp. With temperature ≤ 0 the chain is
// penalty → argmax. Cost per token is O(vocabulary) for the penalty and top-k selection, plus
// O(k log k) on the survivors; top-k ≤ 0 sorts the whole vocabulary (slower, still a few ms).

import Foundation

/// The tokens still in the running, most likely first once sorted.
public struct TokenCandidates: Sendable {
    public var ids: [Int32]
    public var logits: [Float]

    public init(ids: [Int32], logits: [Float]) {
        self.ids = ids
        self.logits = logits
    }

    /// Softmax of the logits.
    public func probabilities() -> [Float] {
        guard let maximum = logits.max() else { return [] }
        var result = logits.map { expf($0 - maximum) }
        let sum = result.reduce(0, +)
        for index in result.indices { result[index] /= sum }
        return result
    }

    /// Keeps the first `count` candidates (they must be sorted).
    mutating func keepFirst(_ count: Int) {
        let count = max(1, min(count, ids.count))
        ids.removeSubrange(count...)
        logits.removeSubrange(count...)
    }
}

/// One stage of a sampling chain, like llama.cpp's `llama_sampler_i.apply`.
public protocol SamplerStage: Sendable {
    /// Narrows or reweights `candidates`, which arrive sorted most likely first.
    func apply(_ candidates: inout TokenCandidates)
}

/// Keeps the `k` most likely candidates.
public struct TopKStage: SamplerStage {
    public let k: Int
    public init(k: Int) { self.k = k }
    public func apply(_ candidates: inout TokenCandidates) { if k > 0 { candidates.keepFirst(k) } }
}

/// Keeps the smallest most-likely prefix whose probability reaches `p`.
public struct TopPStage: SamplerStage {
    public let p: Float
    public init(p: Float) { self.p = p }
    public func apply(_ candidates: inout TokenCandidates) {
        guard p < 1 else { return }
        var cumulative: Float = 0
        for (index, probability) in candidates.probabilities().enumerated() {
            cumulative += probability
            if cumulative >= p {
                candidates.keepFirst(index + 1)
                return
            }
        }
    }
}

/// Drops candidates less likely than `p` times the most likely one.
public struct MinPStage: SamplerStage {
    public let p: Float
    public init(p: Float) { self.p = p }
    public func apply(_ candidates: inout TokenCandidates) {
        guard p > 0, let top = candidates.logits.first else { return }
        let threshold = top + logf(p)
        let kept = candidates.logits.firstIndex { $0 < threshold } ?? candidates.logits.count
        candidates.keepFirst(kept)
    }
}

/// Divides logits by the temperature.
public struct TemperatureStage: SamplerStage {
    public let temperature: Float
    public init(temperature: Float) { self.temperature = temperature }
    public func apply(_ candidates: inout TokenCandidates) {
        for index in candidates.logits.indices { candidates.logits[index] /= temperature }
    }
}

/// Picks the next token from logits according to ``SamplingParameters``; same seed, same choices.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private let stages: [any SamplerStage]
    private var generator: SeededGenerator

    /// The default chain for `parameters`.
    public init(_ parameters: SamplingParameters) {
        self.init(
            parameters,
            stages: [
                TopKStage(k: parameters.topK), TopPStage(p: parameters.topP), MinPStage(p: parameters.minP),
                TemperatureStage(temperature: parameters.temperature),
            ])
    }

    /// A custom chain: the repetition penalty and top-k preselection of `parameters`, then `stages`, then
    /// the seeded draw.
    public init(_ parameters: SamplingParameters, stages: [any SamplerStage]) {
        self.parameters = parameters
        self.stages = stages
        self.generator = SeededGenerator(seed: parameters.seed)
    }

    /// Chooses the next token.
    /// - Parameters:
    ///   - logits: one logit per vocabulary entry; the repetition penalty is applied to it in place.
    ///   - history: the tokens so far (prompt and generated), oldest first.
    public mutating func sample(_ logits: inout [Float], history: [Int32]) -> Int32 {
        precondition(!logits.isEmpty, "sampling needs at least one logit")
        applyRepetitionPenalty(&logits, history: history)
        if parameters.temperature <= 0 { return Sampler.argmax(logits) }
        var candidates = Sampler.mostLikely(logits, count: parameters.topK)
        for stage in stages { stage.apply(&candidates) }
        let probabilities = candidates.probabilities()
        let draw = Float(generator.nextUnit())
        var cumulative: Float = 0
        for (index, probability) in probabilities.enumerated() {
            cumulative += probability
            if draw < cumulative { return candidates.ids[index] }
        }
        return candidates.ids[candidates.ids.count - 1]
    }

    /// llama.cpp's penalty: each distinct recent token's logit is divided by the penalty if positive,
    /// multiplied if not.
    private func applyRepetitionPenalty(_ logits: inout [Float], history: [Int32]) {
        let penalty = parameters.repetitionPenalty
        guard penalty != 1, penalty > 0, parameters.repeatLastN != 0 else { return }
        let window = parameters.repeatLastN < 0 ? history.count : min(parameters.repeatLastN, history.count)
        var seen = Set<Int32>()
        for id in history.suffix(window) where id >= 0 && Int(id) < logits.count && seen.insert(id).inserted {
            let logit = logits[Int(id)]
            logits[Int(id)] = logit <= 0 ? logit * penalty : logit / penalty
        }
    }

    /// The index of the largest logit; the lowest index among equals.
    static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        for index in logits.indices.dropFirst() where logits[index] > logits[best] { best = index }
        return Int32(best)
    }

    /// The `count` largest logits (all when `count` ≤ 0), sorted descending, ties by lower id.
    static func mostLikely(_ logits: [Float], count: Int) -> TokenCandidates {
        func before(_ a: Int, _ b: Int) -> Bool { logits[a] != logits[b] ? logits[a] > logits[b] : a < b }
        var chosen: [Int]
        if count <= 0 || count >= logits.count {
            chosen = Array(logits.indices)
        } else {
            // A min-heap (by `before`) of the best `count` seen so far; its root is the weakest.
            chosen = Array(0..<count)
            func siftDown(_ start: Int) {
                var parent = start
                while true {
                    let a = 2 * parent + 1, b = a + 1
                    var weakest = parent
                    if a < count && before(chosen[weakest], chosen[a]) { weakest = a }
                    if b < count && before(chosen[weakest], chosen[b]) { weakest = b }
                    if weakest == parent { return }
                    chosen.swapAt(parent, weakest)
                    parent = weakest
                }
            }
            for index in stride(from: count / 2 - 1, through: 0, by: -1) { siftDown(index) }
            for index in count..<logits.count where before(index, chosen[0]) {
                chosen[0] = index
                siftDown(0)
            }
        }
        chosen.sort(by: before)
        return TokenCandidates(ids: chosen.map(Int32.init), logits: chosen.map { logits[$0] })
    }
}
