// Tests of the batched product (ck_matvec over many tokens, through the tile kernels of gemm.h where the CPU
// has them): every output is bit-equal to the single-token dot kernel for its row and token, for each weight
// type the tiles cover, over shapes that leave partial tiles (rows and tokens not multiples of the tile, one
// token, more tokens than a chunk), with and without a bias, on one thread and on two, and (for the
// 32-element types on a CPU with VNNI) with the AVX2 tiles as well as the VNNI ones.
import GGUF
import Inference
import Testing

struct GemmKernelTests {
    static let weightTypes: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q5_K, .q6_K]
    /// Byte offsets of the half-float fields (d, and m or dmin) of the 32-element types' blocks.
    static let halfOffsets: [GGMLType: [Int]] = [.q4_0: [0], .q4_1: [0, 2], .q5_0: [0], .q5_1: [0, 2], .q8_0: [0]]
    /// (rows, tokens): partial row and token tiles, a single token, and more tokens than one chunk of 64.
    static let shapes: [(rows: Int, tokens: Int)] = [
        (1, 1), (3, 1), (4, 2), (5, 2), (7, 3), (9, 65), (6, 130), (13, 67),
    ]

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

    @Test(arguments: weightTypes)
    func batchedProductEqualsTheDotKernelBitForBit(type: GGMLType) {
        for (index, shape) in Self.shapes.enumerated() {
            let seed = UInt64(index + 1)
            // Two blocks of 256 for the K-quants; 20 blocks of 32 (Gemma's 640 columns) for the others.
            let count = type.blockSize == 256 ? 512 : 640
            let rowBytes = type.rowBytes(count)
            let weights = Self.randomBlocks(type, count: count * shape.rows, seed: seed)
            let activationType = Kernels.activationType(for: type)
            let x = KernelTests.synthetic(count * shape.tokens, seed: seed + 50).map { $0 * Float(index % 3 + 1) }
            let activations = Kernels.quantize(x, as: activationType, .fast)
            let activationBytes = activationType.rowBytes(count)
            let bias = index % 2 == 0 ? nil : KernelTests.synthetic(shape.rows, seed: seed + 90)
            for (threads, vnni) in [(1, true), (2, true), (2, false)] {
                let out = Kernels.matmul(
                    weights, rows: shape.rows, activations, tokens: shape.tokens, type: type, count: count, bias: bias,
                    threads: threads, vnni: vnni)
                var mismatches = 0
                for t in 0..<shape.tokens {
                    let a = Array(activations[t * activationBytes..<(t + 1) * activationBytes])
                    for r in 0..<shape.rows {
                        let w = Array(weights[r * rowBytes..<(r + 1) * rowBytes])
                        let expected = Kernels.dot(w, a, type: type, count: count, .fast) + (bias?[r] ?? 0)
                        if out[t * shape.rows + r].bitPattern != expected.bitPattern { mismatches += 1 }
                    }
                }
                #expect(
                    mismatches == 0,
                    "\(type) \(shape.rows)×\(shape.tokens), \(threads) threads, VNNI \(vnni): \(mismatches) outputs differ"
                )
            }
        }
    }
}
