// Tests of a prompt's product by panels (ck_panel_matmul, 512-bit VNNI): the fast product is bit-equal to its
// portable twin for each type it covers, over shapes that leave partial panels (rows not a multiple of 16)
// and partial groups of tokens (not a multiple of 8), with and without a bias, on one thread and on two; and
// the twin is held against an independent oracle, the exact product of the reference dequantizations summed
// in double. On a CPU without panels the fast call is the twin itself, which the first test says.
import GGUF
import Inference
import Testing

struct PanelKernelTests {
    static let weightTypes: [GGMLType] = [
        .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs,
    ]
    /// (rows, tokens, columns): one row and token, partial panels and token groups, Gemma 3's 640 columns
    /// (the K-quants take their columns in super-blocks of 256 instead).
    static let shapes: [(rows: Int, tokens: Int, count: Int)] = [
        (1, 1, 32), (15, 7, 64), (16, 8, 640), (17, 9, 640), (33, 40, 96), (40, 33, 640), (3, 130, 128),
    ]

    static func shape(_ type: GGMLType, _ index: Int) -> (rows: Int, tokens: Int, count: Int) {
        let s = shapes[index]
        return type.blockSize == 256 ? (s.rows, s.tokens, 256 * (index % 3 + 1)) : s
    }

    static func operands(_ type: GGMLType, _ shape: (rows: Int, tokens: Int, count: Int), seed: UInt64)
        -> (weights: [UInt8], activations: [UInt8], bias: [Float]?)
    {
        let weights = GemmKernelTests.randomBlocks(type, count: shape.count * shape.rows, seed: seed)
        let x = KernelTests.synthetic(shape.count * shape.tokens, seed: seed + 50).map { $0 * Float(seed % 3 + 1) }
        let bias = seed % 2 == 0 ? nil : KernelTests.synthetic(shape.rows, seed: seed + 90)
        return (weights, Kernels.quantize(x, as: Kernels.activationType(for: type), .fast), bias)
    }

    static func product(
        _ type: GGMLType, _ shape: (rows: Int, tokens: Int, count: Int), _ weights: [UInt8], _ activations: [UInt8],
        _ bias: [Float]?, _ flavour: Kernels.Flavour, threads: Int = 1
    ) -> [Float] {
        Kernels.panelMatmul(
            weights, rows: shape.rows, activations, tokens: shape.tokens, type: type, count: shape.count, bias: bias,
            threads: threads, flavour)
    }

    static func hasMins(_ type: GGMLType) -> Bool { type == .q4_1 || type == .q5_1 }

    static func half(_ bytes: [UInt8], at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    @Test(arguments: weightTypes)
    func fastPanelsEqualTheirTwinBitForBit(type: GGMLType) {
        print("panels for \(type) on this CPU: \(Kernels.panelsAvailable(for: type))")
        for index in Self.shapes.indices {
            let shape = Self.shape(type, index)
            let (weights, activations, bias) = Self.operands(type, shape, seed: UInt64(index + 1))
            let expected = Self.product(type, shape, weights, activations, bias, .reference)
            for threads in [1, 2] {
                let out = Self.product(type, shape, weights, activations, bias, .fast, threads: threads)
                let mismatches = zip(out, expected).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(mismatches == 0, "\(type) \(shape) on \(threads) threads: \(mismatches) outputs differ")
            }
        }
    }

    /// The product of the reference dequantizations summed in double (exact for the 32-element types, whose
    /// code × scale is exact in a float; the K-quants' sub-block scale and min round once): the twin's float
    /// rounding stays within a few ulps of the magnitudes it sums.
    @Test(arguments: weightTypes)
    func twinMatchesTheExactProduct(type: GGMLType) {
        for index in Self.shapes.indices {
            let shape = Self.shape(type, index)
            let (weights, activations, bias) = Self.operands(type, shape, seed: UInt64(index + 11))
            let out = Self.product(type, shape, weights, activations, bias, .reference)
            let w = Kernels.dequantize(weights, as: type, count: shape.rows * shape.count)
            let a = Kernels.dequantize(
                activations, as: Kernels.activationType(for: type), count: shape.tokens * shape.count)
            var worst = 0.0
            for t in 0..<shape.tokens {
                for r in 0..<shape.rows {
                    var exact = 0.0, magnitude = 0.0, halfSums = 0.0
                    for j in 0..<shape.count {
                        let p = Double(w[r * shape.count + j]) * Double(a[t * shape.count + j])
                        exact += p
                        magnitude += abs(p)
                    }
                    // Q8_1 carries its block sums as halves (s = d × Σ codes, as llama.cpp's format has it), which
                    // the mins multiply: up to 2^-11 of each min term besides.
                    for block in 0..<(Self.hasMins(type) ? shape.count / 32 : 0) {
                        let m = Kernels.halfToFloat(
                            Self.half(weights, at: (r * shape.count / 32 + block) * type.bytesPerBlock + 2))
                        let sum = (0..<32).reduce(0.0) { $0 + Double(a[t * shape.count + block * 32 + $1]) }
                        halfSums += abs(Double(m) * sum) * 2 * 0x1p-11
                    }
                    exact += Double(bias?[r] ?? 0)
                    magnitude += abs(Double(bias?[r] ?? 0))
                    let error = max(0, abs(Double(out[t * shape.rows + r]) - exact) - halfSums)
                    worst = max(worst, error / max(magnitude, 1e-30))
                }
            }
            #expect(worst < 1e-5, "\(type) \(shape): relative error \(worst)")
        }
    }
}
