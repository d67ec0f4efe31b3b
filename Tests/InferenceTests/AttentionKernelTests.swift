// Tests of the attention (ck_attention): every output equals, bit for bit, llama.cpp's f16-cache arithmetic
// written out here one operation at a time (query and probabilities rounded to f16; Q·K and P·V fused in
// eight lanes for a batch, 32 for a single token; lanes summed in llama.cpp's order), for the batched AVX2
// and single-token AVX2 variants and the portable one, over token counts that leave partial groups of eight,
// caches that already hold positions, a sliding window, one to four heads per KV head, two head sizes (four
// for one token) and one or two threads.
import Inference
import Testing

struct AttentionKernelTests {
    /// (heads, kvHeads): one, three and four query heads per KV head (Gemma 3 270M has 4/1, SmolLM2 9/3).
    static let groups: [(heads: Int, kvHeads: Int)] = [(2, 2), (6, 2), (4, 1)]

    /// Eight lanes summed ((0+4)+(2+6)) + ((1+5)+(3+7)).
    static func lanesSum(_ l: ArraySlice<Float>) -> Float {
        let i = l.startIndex
        let even: Float = (l[i] + l[i + 4]) + (l[i + 2] + l[i + 6])
        let odd: Float = (l[i + 1] + l[i + 5]) + (l[i + 3] + l[i + 7])
        return even + odd
    }

    /// 32 lanes: vectors (0+2)+(1+3), then lanes ((0+4)+(1+5)) + ((2+6)+(3+7)).
    static func quadSum(_ a: [Float]) -> Float {
        let l = (0..<8).map { j -> Float in
            let outer: Float = a[j] + a[16 + j]
            let inner: Float = a[8 + j] + a[24 + j]
            return outer + inner
        }
        let low: Float = (l[0] + l[4]) + (l[1] + l[5])
        let high: Float = (l[2] + l[6]) + (l[3] + l[7])
        return low + high
    }

    /// The attention written out: for each token and head, the f16 query's product with each key it sees
    /// (lane d % 8, or d % 32 for one token) times `scale`, the reference softmax over all the positions
    /// (those outside a window at -inf, as in llama.cpp's masked row), and each f16 probability
    /// times its value fused into lane p % 8 (p % 32) of every output element, in increasing p.
    static func expected(
        queries: [Float], keys: [Float], values: [Float], _ s: Kernels.AttentionShape, scale: Float
    ) -> [Float] {
        let single = s.tokens == 1
        let laneCount = single ? 32 : 8
        let (kvDim, group) = (s.kvHeads * s.headDim, s.heads / s.kvHeads)
        var out = [Float](repeating: 0, count: s.tokens * s.heads * s.headDim)
        for t in 0..<s.tokens {
            let n = s.firstPosition + t + 1
            let first = s.window > 0 && n > s.window ? n - s.window : 0
            for h in 0..<s.heads {
                let kv = h / group * s.headDim
                let q = (0..<s.headDim).map { Float(Float16(queries[(t * s.heads + h) * s.headDim + $0])) }
                // llama.cpp's row of every cached position, the ones outside the window masked with -inf.
                var scores = (0..<n).map { p -> Float in
                    if p < first { return -.infinity }
                    var lanes = [Float](repeating: 0, count: laneCount)
                    for d in 0..<s.headDim {
                        lanes[d % laneCount] = lanes[d % laneCount].addingProduct(q[d], keys[p * kvDim + kv + d])
                    }
                    return (single ? quadSum(lanes) : lanesSum(lanes[...])) * scale
                }
                Kernels.softmax(&scores, .reference)
                var lanes = [[Float]](repeating: [Float](repeating: 0, count: laneCount), count: s.headDim)
                for p in first..<n {
                    let a = Float(Float16(scores[p]))
                    for d in 0..<s.headDim {
                        lanes[d][p % laneCount] = lanes[d][p % laneCount].addingProduct(a, values[p * kvDim + kv + d])
                    }
                }
                for d in 0..<s.headDim {
                    out[(t * s.heads + h) * s.headDim + d] = single ? quadSum(lanes[d]) : lanesSum(lanes[d][...])
                }
            }
        }
        return out
    }

    @Test(arguments: [1, 2, 7, 64, 130])
    func attentionEqualsTheF16CacheArithmeticBitForBit(tokens: Int) {
        var generator = SeededGenerator(seed: UInt64(tokens))
        func random(_ count: Int, _ bound: Float) -> [Float] {
            (0..<count).map { _ in Float.random(in: -bound...bound, using: &generator) }
        }
        // One token also with head sizes of three 32-lane groups (Phi-3's 96) and of none (80, the portable
        // path), and caches whose positions wrap the 32 lanes several times.
        let single = tokens == 1
        for headDim in [64, 256] + (single ? [96, 80] : []) {
            for (heads, kvHeads) in Self.groups {
                // A fresh cache and one holding 37 positions (for one token also 100); the window masks from the
                // 20th (40th) position back.
                let caches = [(0, 0), (37, 0), (0, 20), (37, 20)] + (single ? [(100, 0), (100, 40)] : [])
                for (firstPosition, window) in caches {
                    let shape = Kernels.AttentionShape(
                        tokens: tokens, firstPosition: firstPosition, heads: heads, kvHeads: kvHeads, headDim: headDim,
                        window: window)
                    let positions = firstPosition + tokens
                    let queries = random(tokens * heads * headDim, 2)
                    let keys = random(positions * kvHeads * headDim, 1)
                    let values = random(keys.count, 1)
                    let scale = 1 / Float(headDim).squareRoot()
                    let expected = Self.expected(queries: queries, keys: keys, values: values, shape, scale: scale)
                    for threads in [1, 2] {
                        for flavour in [Kernels.Flavour.fast, .reference] {
                            let out = Kernels.attention(
                                queries: queries, keys: keys, values: values, shape, scale: scale, threads: threads,
                                flavour)
                            let wrong = out.indices.filter { out[$0].bitPattern != expected[$0].bitPattern }.count
                            #expect(
                                wrong == 0,
                                """
                                \(flavour) \(heads)/\(kvHeads) heads of \(headDim), from \(firstPosition), window \
                                \(window), \(threads) threads: \(wrong) of \(out.count) outputs differ
                                """)
                        }
                    }
                }
            }
        }
    }
}
