// Tests of the K-quant and IQ4 kernels (Q2_K…Q6_K and IQ4_XS weights with Q8_K activations, IQ4_NL with
// Q8_0): dequantization equals the `gguf` package's reference dequantizer bit for bit (goldens recorded by
// deploy/oracle/kquant_goldens.py), every fast dot kernel (with and without VNNI where the CPU has it)
// equals its scalar twin bit for bit, the twin equals the exact product of the dequantized operands to
// rounding, and Q8_K quantization keeps llama.cpp's specification.
import Foundation
import GGUF
import Inference
import Testing

struct KQuantKernelTests {
    static let weightTypes: [GGMLType] = [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs]
    /// Byte offsets of each type's half-float fields (d, and dmin where there is one) in ggml-common.h.
    static let halfOffsets: [GGMLType: [Int]] = [
        .q2_K: [80, 82], .q3_K: [108], .q4_K: [0, 2], .q5_K: [0, 2], .q6_K: [208], .iq4_nl: [0], .iq4_xs: [0],
    ]
    /// |reference − exact| relative to Σ|terms|: the integer part is exact, so only the float scales and
    /// the accumulation round (a few ulps per super-block).
    static let maxDotRoundingError = 1e-5

    /// Seeded random blocks: uniform bytes, with the half-float scales set to finite values of either sign
    /// up to `halfScale` (any other byte pattern is a valid block).
    static func randomBlocks(_ type: GGMLType, count: Int, seed: UInt64, halfScale: Float = 0.01) -> [UInt8] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var bytes = (0..<type.rowBytes(count)).map { _ in UInt8(truncatingIfNeeded: next()) }
        for block in 0..<count / type.blockSize {
            for offset in halfOffsets[type, default: []] {
                let scale = Float(Int(next() % 2001) - 1000) / 1000 * halfScale
                let half = Kernels.floatToHalf(scale)
                bytes[block * type.bytesPerBlock + offset] = UInt8(half & 0xff)
                bytes[block * type.bytesPerBlock + offset + 1] = UInt8(half >> 8)
            }
        }
        return bytes
    }

    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    static func hex(_ string: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = string.startIndex
        while index < string.endIndex {
            let next = string.index(index, offsetBy: 2)
            out.append(UInt8(string[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    @Test(arguments: weightTypes)
    func dequantizationEqualsTheGGUFPackage(type: GGMLType) throws {
        let fixture = try TokenizerFixtures.json("kquant_goldens.json")
        let entry = try #require((fixture["types"] as? [String: Any])?[type.description] as? [String: Any])
        let count = try #require(entry["count"] as? Int)
        let blocks = Self.hex(try #require(entry["blocks"] as? String))
        let expected = Self.hex(try #require(entry["values"] as? String))
        #expect(blocks.count == type.rowBytes(count) && expected.count == count * 4)
        let values = Kernels.dequantize(blocks, as: type, count: count)
        let golden = expected.withUnsafeBytes { raw in
            (0..<count).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
        let mismatches = zip(Self.bits(values), golden).filter { $0 != $1 }.count
        #expect(mismatches == 0, "\(type): \(mismatches) of \(count) values differ from gguf's")
        #expect(Kernels.dequantize(blocks, as: type, count: count, .fast) == values)
    }

    @Test(arguments: weightTypes)
    func fastDotEqualsItsScalarTwinBitForBit(type: GGMLType) {
        for (seed, count) in zip(UInt64(1)...12, [256, 512, 768, 1024, 2048, 4096, 256, 1536, 3072, 512, 8192, 1280]) {
            let weights = Self.randomBlocks(type, count: count, seed: seed)
            // Activations over several magnitudes, and one all-zero block (Q8_K's and Q8_0's special case).
            var x = KernelTests.synthetic(count, seed: seed + 100).map { $0 * Float(seed % 3 == 0 ? 0.01 : 3) }
            if seed % 4 == 0 { for i in 0..<256 { x[i] = 0 } }
            let activation = Kernels.quantize(x, as: Kernels.activationType(for: type))
            let reference = Kernels.dot(weights, activation, type: type, count: count, .reference)
            // The fast kernel, and on a CPU with VNNI also the AVX2 kernel without it.
            for vnni in [true, false] {
                let fast = Kernels.dot(weights, activation, type: type, count: count, .fast, vnni: vnni)
                #expect(
                    fast.bitPattern == reference.bitPattern, "\(type) n=\(count) vnni \(vnni): \(fast) vs \(reference)")
            }
        }
    }

    @Test(arguments: weightTypes)
    func scalarDotIsTheExactProductOfTheDequantizedOperands(type: GGMLType) {
        let count = 2048
        let weights = Self.randomBlocks(type, count: count, seed: 7)
        let activationType = Kernels.activationType(for: type)
        let activation = Kernels.quantize(KernelTests.synthetic(count, seed: 8), as: activationType)
        let w = Kernels.dequantize(weights, as: type, count: count)
        let a = Kernels.dequantize(activation, as: activationType, count: count)
        let exact = zip(w, a).map { Double($0) * Double($1) }.reduce(0, +)
        let scale = zip(w, a).map { abs(Double($0) * Double($1)) }.reduce(0, +)
        let dot = Double(Kernels.dot(weights, activation, type: type, count: count, .reference))
        #expect(abs(dot - exact) <= Self.maxDotRoundingError * scale, "\(type) \(dot) vs \(exact)")
    }

    /// The activation format of each weight type is the one llama.cpp's CPU backend pairs it with
    /// (ggml-cpu.c's type traits, `vec_dot_type`): Q8_K for every 256-element type, Q8_0 for IQ4_NL.
    @Test func activationFormatsAreLlamaCpps() {
        let expected: [GGMLType: GGMLType] = [
            .q2_K: .q8_K, .q3_K: .q8_K, .q4_K: .q8_K, .q5_K: .q8_K, .q6_K: .q8_K, .iq4_xs: .q8_K, .iq4_nl: .q8_0,
        ]
        for (weights, activation) in expected {
            #expect(Kernels.activationType(for: weights) == activation, "\(weights)")
        }
    }

    /// The fast Q8_K quantizer (the activations of every K-quant product) equals the reference bit for bit:
    /// blocks over several magnitudes, the largest value negative or positive, ties of ±max (the first
    /// wins), halves (round to even), and an all-zero block.
    @Test func fastQ8KQuantizationEqualsTheReference() {
        for seed in UInt64(1)...20 {
            var x = KernelTests.synthetic(1024, seed: seed + 40).map { $0 * Float(seed % 4 == 0 ? 1e-3 : 50) }
            switch seed % 5 {
            case 0: for i in 256..<512 { x[i] = 0 }
            case 1: x[300] = 1000; x[700] = -1000  // ties across blocks' maxima of either sign
            case 2: x[10] = -127; x[20] = 127; x[30] = 0.5; x[40] = 1.5; x[50] = -2.5  // ties and halves
            case 3: x[600] = -x[600].magnitude * 10; x[601] = x[600].magnitude
            default: break
            }
            let reference = Kernels.quantize(x, as: .q8_K)
            let fast = Kernels.quantize(x, as: .q8_K, .fast)
            #expect(fast == reference, "seed \(seed)")
        }
    }

    /// llama.cpp's quantize_row_q8_K_ref: the value of largest magnitude maps to code -127, d = -max/127,
    /// every code is x/d rounded to nearest (|error| ≤ |d|/2), and bsums are the sums of each 16 codes.
    @Test func q8KQuantizationFollowsLlamaCpp() {
        var x = KernelTests.synthetic(1024, seed: 9)
        for i in 512..<768 { x[i] = 0 }  // an all-zero block: d = 0, codes 0
        let bytes = Kernels.quantize(x, as: .q8_K)
        #expect(bytes.count == 4 * 292)
        for block in 0..<4 {
            let base = block * 292
            let d = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: base, as: Float.self) }
            let codes = (0..<256).map { Int(Int8(bitPattern: bytes[base + 4 + $0])) }
            let values = Array(x[block * 256..<(block + 1) * 256])
            if block == 2 {
                #expect(d == 0 && codes.allSatisfy { $0 == 0 })
                continue
            }
            let largest = values.indices.max { abs(values[$0]) < abs(values[$1]) }!
            #expect(codes[largest] == -127)
            #expect(abs(d * -127 - values[largest]) <= abs(values[largest]) * 1e-6)
            for (code, value) in zip(codes, values) {
                #expect(abs(code) <= 127 && abs(Float(code) * d - value) <= abs(d) * 0.5001)
            }
            for group in 0..<16 {
                let offset = base + 260 + 2 * group
                let stored = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int16.self) }
                #expect(Int(stored) == codes[16 * group..<16 * group + 16].reduce(0, +))
            }
        }
    }
}
