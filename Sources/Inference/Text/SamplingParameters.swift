// The knobs of token sampling, and the seeded random number generator behind them. The generator is
// our own (xoshiro256**, seeded through SplitMix64) so that the same seed gives the same tokens on
// every platform and Swift version; the standard library's generator makes no such promise.

/// How the next token is chosen from the model's logits. A temperature of 0 (or less) means greedy.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Softmax temperature; ≤ 0 picks the most likely token (ties: the lowest id).
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; ≤ 0 keeps all.
    public var topK: Int
    /// Keep the most likely tokens whose probabilities add up to at least `topP`; ≥ 1 keeps all.
    public var topP: Float
    /// Drop tokens less likely than `minP` times the most likely one; ≤ 0 keeps all.
    public var minP: Float
    /// Divide positive logits (multiply negative ones) of recently seen tokens by this; 1 disables.
    public var repetitionPenalty: Float
    /// How many of the most recent tokens the repetition penalty looks at.
    public var repeatLastN: Int
    /// Seed of the random draw: the same seed and logits give the same token.
    public var seed: UInt64

    public init(
        temperature: Float = 0.7, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
        repetitionPenalty: Float = 1.0, repeatLastN: Int = 64, seed: UInt64 = 0
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repeatLastN = repeatLastN
        self.seed = seed
    }

    /// Always the most likely token.
    public static let greedy = SamplingParameters(temperature: 0)
}

/// xoshiro256** (Blackman and Vigna), seeded by expanding a 64-bit seed with SplitMix64.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
