// The sampler: greedy argmax, each filtering stage, the repetition penalty, and seeded determinism.
// The generator's outputs are checked against a separate Python implementation of xoshiro256** seeded
// by SplitMix64 (the algorithm as published by Blackman and Vigna).
import Foundation
import Inference
import Testing

@Suite("Sampler")
struct SamplerTests {
    @Test func generatorMatchesReferenceImplementation() {
        var zero = SeededGenerator(seed: 0)
        #expect(
            [zero.next(), zero.next(), zero.next()] == [
                0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a, 0x1a5f_849d_4933_e6e0,
            ])
        var answer = SeededGenerator(seed: 42)
        #expect(
            [answer.next(), answer.next(), answer.next()] == [
                0x1578_0b2e_0c2e_c716, 0x6104_d986_6d11_3a7e, 0xae17_5332_39e4_99a1,
            ])
    }

    @Test func greedyPicksTheLargestLogitAndTheLowestIdOnTies() {
        var sampler = Sampler(.greedy)
        var logits: [Float] = [0.5, 2, -1, 2, 1.9]
        #expect(sampler.sample(&logits, history: []) == 1)
        var negative: [Float] = [-3, -1, -2]
        #expect(sampler.sample(&negative, history: []) == 1)
    }

    private func draws(_ parameters: SamplingParameters, _ logits: [Float], count: Int = 2000) -> [Int32] {
        var sampler = Sampler(parameters)
        return (0..<count).map { _ in
            var copy = logits
            return sampler.sample(&copy, history: [])
        }
    }

    @Test func sameSeedSameTokensDifferentSeedDifferentTokens() {
        let logits: [Float] = (0..<100).map { Float($0 % 7) * 0.3 }
        let parameters = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 7)
        let first = draws(parameters, logits, count: 200)
        #expect(first == draws(parameters, logits, count: 200))
        var other = parameters
        other.seed = 8
        #expect(first != draws(other, logits, count: 200))
    }

    @Test func drawsFollowTheSoftmax() {
        // Probabilities 0.5, 0.25, 0.25 from logits ln 2, 0, 0.
        let logits: [Float] = [0.693_147_2, 0, 0]
        let picks = draws(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1), logits, count: 4000)
        let share = Double(picks.filter { $0 == 0 }.count) / Double(picks.count)
        #expect(abs(share - 0.5) < 0.04)
        #expect(Set(picks) == [0, 1, 2])
    }

    @Test func topKKeepsOnlyTheKBest() {
        let logits: [Float] = [1, 5, 3, 4, 2]
        let picks = draws(SamplingParameters(temperature: 5, topK: 2, topP: 1, minP: 0, seed: 3), logits)
        #expect(Set(picks) == [1, 3])
        let one = draws(SamplingParameters(temperature: 5, topK: 1, topP: 1, minP: 0, seed: 3), logits, count: 50)
        #expect(Set(one) == [1])
    }

    @Test func topPKeepsTheSmallestSetReachingP() {
        // Probabilities ≈ 0.5, 0.3, 0.2: p = 0.6 needs the first two, p = 0.4 only the first.
        let logits: [Float] = [logf(0.5), logf(0.3), logf(0.2)]
        #expect(Set(draws(SamplingParameters(temperature: 1, topK: 0, topP: 0.6, minP: 0, seed: 2), logits)) == [0, 1])
        #expect(Set(draws(SamplingParameters(temperature: 1, topK: 0, topP: 0.4, minP: 0, seed: 2), logits)) == [0])
    }

    @Test func minPDropsTokensFarLessLikelyThanTheBest() {
        // Relative to the best: 1, 0.3, 0.05. min-p 0.1 keeps the first two.
        let logits: [Float] = [0, logf(0.3), logf(0.05)]
        #expect(Set(draws(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0.1, seed: 4), logits)) == [0, 1])
    }

    @Test func lowTemperatureSharpensHighTemperatureFlattens() {
        let logits: [Float] = [1, 0]
        let cold = draws(SamplingParameters(temperature: 0.1, topK: 0, topP: 1, minP: 0, seed: 5), logits)
        let hot = draws(SamplingParameters(temperature: 10, topK: 0, topP: 1, minP: 0, seed: 5), logits)
        #expect(cold.filter { $0 == 0 }.count > 1990)
        let hotShare = Double(hot.filter { $0 == 0 }.count) / Double(hot.count)
        #expect(hotShare > 0.45 && hotShare < 0.6)
    }

    @Test func repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        var sampler = Sampler(SamplingParameters(temperature: 0, repetitionPenalty: 2, repeatLastN: 2))
        var logits: [Float] = [4, 3, -1, 1]
        // Only the last two history tokens (1 and 2) count; token 0 is outside the window.
        let pick = sampler.sample(&logits, history: [0, 1, 2])
        #expect(logits == [4, 1.5, -2, 1])
        #expect(pick == 0)
        var again: [Float] = [4, 3, -1, 1]
        #expect(sampler.sample(&again, history: [0, 0]) == 1)  // 4 / 2 = 2 < 3
    }
}
