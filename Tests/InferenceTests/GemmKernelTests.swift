// Tests of the batched product (ck_matvec over many tokens, through the tile kernels of gemm.h where the CPU
// has them): every output of a 32-element type is bit-equal to the single-token dot kernel for its row and
// token, but for Q4_0 and IQ4_NL matrices of a multiple of 8 rows, which llama.cpp repacks and sums block by
// block; a K-quant's is the sum llama.cpp's AVX2 build makes of it (its order: the dot kernel's for batches
// under 8 tokens, its tiled product's from 8, and Q4_K matrices of a multiple of 8 rows in its repacked
// orders), and in a decoding step over many sessions each token's as if alone. Over shapes that leave partial
// tiles (rows and tokens not multiples of the tile, one token, more tokens than a chunk; for one token the
// kernels of four rows as well), with and without a bias, on one thread and on two, and (for the 32-element
// types on a CPU with VNNI) with the AVX2 tiles as well as the VNNI ones.
import GGUF
import Inference
import Testing

struct GemmKernelTests {
    static let weightTypes: [GGMLType] = [
        .q4_0, .q4_1, .q5_0, .q8_0, .iq4_nl, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs,
    ]
    /// Byte offsets of the half-float fields (d, and m or dmin) of the 32-element types' blocks.
    static let halfOffsets: [GGMLType: [Int]] = [
        .q4_0: [0], .q4_1: [0, 2], .q5_0: [0], .q5_1: [0, 2], .q8_0: [0], .iq4_nl: [0],
    ]
    /// (rows, tokens): partial row and token tiles, a single token, and more tokens than one chunk of 64; rows
    /// in eights (wide tiles) and beside them (24 rows on two threads: a wide tile and a four-row one each). A
    /// single token over rows in fours and beside them (13, and 12 with a bias: the one-token kernels of four rows,
    /// then the dot kernel for the rest of each thread's share).
    static let shapes: [(rows: Int, tokens: Int)] = [
        (1, 1), (3, 1), (4, 2), (5, 2), (7, 3), (9, 65), (6, 130), (13, 67), (8, 7), (16, 10), (8, 1), (24, 70),
        (13, 1), (12, 1),
    ]
    /// Shapes whose 32-element rows are 65 blocks long, more than a wide tile unpacks at a time (32).
    static let longRows: Set<Int> = [5, 8, 9, 11]

    /// llama.cpp's order for token t of a batch of `tokens` of a matrix of `rows` rows (nil for the 32-element
    /// types it sums as their dot kernels): written here from its choices (repacked Q4_0 and IQ4_NL for AVX2 in
    /// rows of 8, block by block for every token; repacked Q4_K likewise, groups of four tokens through its gemm
    /// and the rest through its gemv; its tiled K-quant product from 8 tokens).
    static func order(_ type: GGMLType, rows: Int, tokens: Int, token t: Int, sessions: Bool) -> Kernels.SumOrder? {
        if (type == .q4_0 || type == .iq4_nl) && rows % 8 == 0 { return .blocks }
        guard type.blockSize == 256 else { return nil }
        if type == .q4_K && rows % 8 == 0 { return !sessions && t < tokens - tokens % 4 ? .gemm : .gemv }
        return !sessions && tokens >= 8 ? .tiled : .vecDot
    }

    /// Seeded random blocks with finite half-float scales (KQuantKernelTests' generator, which knows the
    /// K-quants' half fields; the 32-element types' are set here).
    static func randomBlocks(_ type: GGMLType, count: Int, seed: UInt64) -> [UInt8] {
        var bytes = KQuantKernelTests.randomBlocks(type, count: count, seed: seed)
        var state = seed &+ 977
        for block in 0..<count / type.blockSize {
            for offset in halfOffsets[type, default: []] {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let half = Kernels.floatToHalf(Float(Int((state >> 33) % 2001) - 1000) / 100_000)
                bytes[block * type.bytesPerBlock + offset] = UInt8(half & 0xff)
                bytes[block * type.bytesPerBlock + offset + 1] = UInt8(half >> 8)
            }
        }
        return bytes
    }

    /// The outputs of the engine's batched product (Kernels.matmul) that differ in any bit from the twin's
    /// product of their row and token in llama.cpp's order for that token (`order`), or from the dot kernel's
    /// where that order is the dot kernel's own, each plus its bias.
    static func mismatches(
        _ weights: [UInt8], rows: Int, _ activations: [UInt8], tokens: Int, type: GGMLType, count: Int,
        bias: [Float]?, threads: Int, vnni: Bool, sessions: Bool
    ) -> Int {
        let out = Kernels.matmul(
            weights, rows: rows, activations, tokens: tokens, type: type, count: count, bias: bias, threads: threads,
            vnni: vnni, sessions: sessions)
        let rowBytes = type.rowBytes(count), activationBytes = Kernels.activationType(for: type).rowBytes(count)
        var mismatches = 0
        for t in 0..<tokens {
            let a = Array(activations[t * activationBytes..<(t + 1) * activationBytes])
            let order = Self.order(type, rows: rows, tokens: tokens, token: t, sessions: sessions)
            for r in 0..<rows {
                let w = Array(weights[r * rowBytes..<(r + 1) * rowBytes])
                let product =
                    order.map { Kernels.dot(w, a, type: type, count: count, order: $0, .reference) }
                    ?? Kernels.dot(w, a, type: type, count: count, .fast)
                if out[t * rows + r].bitPattern != (product + (bias?[r] ?? 0)).bitPattern { mismatches += 1 }
            }
        }
        return mismatches
    }

    @Test(arguments: weightTypes)
    func batchedProductEqualsTheDotKernelBitForBit(type: GGMLType) {
        for (index, shape) in Self.shapes.enumerated() {
            let seed = UInt64(index + 1)
            // Two blocks of 256 for the K-quants; 20 blocks of 32 (Gemma's 640 columns) for the others, or 65.
            let count = type.blockSize == 256 ? 512 : Self.longRows.contains(index) ? 2080 : 640
            let weights = Self.randomBlocks(type, count: count * shape.rows, seed: seed)
            let x = KernelTests.synthetic(count * shape.tokens, seed: seed + 50).map { $0 * Float(index % 3 + 1) }
            let activations = Kernels.quantize(x, as: Kernels.activationType(for: type), .fast)
            let bias = index % 2 == 0 ? nil : KernelTests.synthetic(shape.rows, seed: seed + 90)
            for (threads, vnni, sessions) in [(1, true, false), (2, true, false), (2, false, false), (2, true, true)] {
                let mismatches = Self.mismatches(
                    weights, rows: shape.rows, activations, tokens: shape.tokens, type: type, count: count, bias: bias,
                    threads: threads, vnni: vnni, sessions: sessions)
                let setting = "\(threads) threads, VNNI \(vnni), sessions \(sessions)"
                #expect(mismatches == 0, "\(type) \(shape.rows)×\(shape.tokens), \(setting): \(mismatches) differ")
            }
        }
    }

    /// Every code at an end of its range (all bits set, or only the top bit of each byte) against activations
    /// all at ±127: the tiles' int16 partial sums (a wide tile adds several chunks' before widening; a decoding
    /// step's Q4_0 kernel two halves of a block) must not saturate, so each output still equals the twin's, for
    /// a batch and for one token. Random blocks almost never reach these sums.
    @Test(arguments: weightTypes, [16, 1])
    func extremeCodesSumWithoutOverflow(type: GGMLType, tokens: Int) {
        let count = type.blockSize == 256 ? 512 : 640, rows = 16
        let halves = (Self.halfOffsets[type] ?? KQuantKernelTests.halfOffsets[type]) ?? []
        let half = Kernels.floatToHalf(0.001)
        for fill: UInt8 in [0xff, 0x80] {
            var weights = [UInt8](repeating: fill, count: type.rowBytes(count) * rows)
            for block in 0..<rows * count / type.blockSize {
                for offset in halves {
                    weights[block * type.bytesPerBlock + offset] = UInt8(half & 0xff)
                    weights[block * type.bytesPerBlock + offset + 1] = UInt8(half >> 8)
                }
            }
            let x = (0..<tokens * count).map { Float($0 / count % 2 == 0 ? 1 : -1) * 0.5 }
            let activations = Kernels.quantize(x, as: Kernels.activationType(for: type), .fast)
            for threads in [1, 2] {
                let mismatches = Self.mismatches(
                    weights, rows: rows, activations, tokens: tokens, type: type, count: count, bias: nil,
                    threads: threads, vnni: true, sessions: false)
                let setting = "fill \(fill), \(tokens) tokens, \(threads) threads"
                #expect(mismatches == 0, "\(type) \(setting): \(mismatches) differ")
            }
        }
    }

    /// The K-quants' exact integers from the fast kernels (each type's dot kernel body) equal the portable
    /// twin's, so every order sums the same numbers; the orders differ from each other in the last bits.
    @Test(arguments: [GGMLType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs])
    func everyOrderOfTheFastIntegersEqualsTheTwin(type: GGMLType) {
        let count = 1024
        var differing = 0
        for seed in 1...40 {
            let w = Self.randomBlocks(type, count: count, seed: UInt64(seed))
            let x = KernelTests.synthetic(count, seed: UInt64(seed) + 500).map { $0 * Float(seed % 5 + 1) }
            let a = Kernels.quantize(x, as: .q8_K, .fast)
            let orders: [Kernels.SumOrder] = type == .q4_K ? [.tiled, .gemv, .gemm] : [.tiled, .gemv]
            var values: [Float] = []
            for order in orders {
                let fast = Kernels.dot(w, a, type: type, count: count, order: order, .fast)
                let twin = Kernels.dot(w, a, type: type, count: count, order: order, .reference)
                #expect(fast.bitPattern == twin.bitPattern, "\(type) \(order) seed \(seed)")
                values.append(fast)
            }
            if Set(values.map(\.bitPattern)).count > 1 { differing += 1 }
        }
        // The orders are not the same sum written three ways: most rows come out differently.
        #expect(differing > 10, "\(type): only \(differing) of 40 rows differ between orders")
    }
}
