// One seeded generator for every test that draws random data: SplitMix64 (Steele, Lea and Flood;
// the constants as Vigna publishes them), so a seed names exactly the same sequence in every suite.

/// A small, fast, seeded `RandomNumberGenerator`; not for anything secret.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<n` (modulo reduction; the bias is irrelevant for test data).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
