// Tests of the numeric kernels: block layouts equal ggml's, every fast (SIMD) kernel agrees with its
// scalar twin on synthetic data within named tolerances, and the references invert each other.
import Foundation
import GGUF
import Inference
import Testing

struct KernelTests {
    /// Tolerances in the spirit of ggml's test-quantize-fns.cpp.
    static let maxQuantizationError: Float = 0.002  // RMS of dequantize(quantize(x)) - x for 8-bit
    static let maxDotProductDifference: Float = 1e-3  // |fast - reference| relative to the sum of |terms|

    static let weightTypes: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .f16, .bf16, .f32]

    /// Deterministic synthetic data like ggml's tests (a cosine ramp plus a seeded perturbation).
    static func synthetic(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1
        return (0..<n).map { i in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let noise = Float(Int64(bitPattern: state >> 11) % 1000) / 4000
            return 0.1 + 2 * Float(cos(Double(i) + Double(seed))) + noise
        }
    }

    @Test func blockLayoutsMatchGGML() {
        for (type, size) in Kernels.blockLayouts {
            #expect(size == type.bytesPerBlock, "\(type)")
        }
        // Every block-quantized weight type the engine multiplies, and the two activation formats.
        let blockTypes = Set(Kernels.supportedWeightTypes.filter { $0.blockSize > 1 }).union([.q8_1, .q8_K])
        #expect(Set(Kernels.blockLayouts.keys) == blockTypes)
    }

    @Test func halfConversionRoundTrips() {
        for bits in stride(from: 0, to: 65536, by: 7) where (bits & 0x7c00) != 0x7c00 {
            #expect(Kernels.floatToHalf(Kernels.halfToFloat(UInt16(bits))) == UInt16(bits))
        }
        #expect(Kernels.halfToFloat(0x3c00) == 1 && Kernels.halfToFloat(0xc000) == -2)
        #expect(Kernels.floatToHalf(65504) == 0x7bff && Kernels.floatToHalf(1e6) == 0x7c00)
        #expect(Kernels.halfToFloat(0x0001) == Float(5.960464477539063e-08))
    }

    @Test(arguments: weightTypes)
    func quantizeRoundTripIsClose(type: GGMLType) {
        let x = Self.synthetic(256, seed: 1)
        let y = Kernels.dequantize(Kernels.quantize(x, as: type), as: type, count: x.count)
        let rms = (zip(x, y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(x.count)).squareRoot()
        // Bits per weight decide the expected error: 4-bit ≈ 0.1, 5-bit ≈ 0.05, 8-bit and wider ≈ 0.01.
        let limit: Float = [.q4_0: 0.15, .q4_1: 0.12, .q5_0: 0.07, .q5_1: 0.06][type] ?? 0.02
        #expect(rms < limit, "\(type) rms \(rms)")
    }

    @Test(arguments: [GGMLType.q8_0, .q8_1])
    func fastActivationQuantizationMatchesReference(type: GGMLType) {
        let x = Self.synthetic(1024, seed: 2)
        let reference = Kernels.dequantize(Kernels.quantize(x, as: type, .reference), as: type, count: x.count)
        let fast = Kernels.dequantize(Kernels.quantize(x, as: type, .fast), as: type, count: x.count)
        let worst = zip(reference, fast).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= Self.maxQuantizationError * 20, "\(type) worst \(worst)")  // at most one step apart
        let rms = (zip(x, fast).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(x.count)).squareRoot()
        #expect(rms < 0.01)
    }

    @Test(arguments: weightTypes)
    func fastDequantizeMatchesReference(type: GGMLType) {
        let bytes = Kernels.quantize(Self.synthetic(512, seed: 3), as: type)
        #expect(
            Kernels.dequantize(bytes, as: type, count: 512, .fast) == Kernels.dequantize(bytes, as: type, count: 512))
    }

    @Test(arguments: weightTypes)
    func fastDotMatchesReferenceAndTheExactProduct(type: GGMLType) {
        let n = 1024
        let w = Self.synthetic(n, seed: 4)
        let x = Self.synthetic(n, seed: 5)
        let wq = Kernels.quantize(w, as: type)
        let activationType = Kernels.activationType(for: type)
        let activation =
            activationType == .f32 ? Kernels.quantize(x, as: .f32) : Kernels.quantize(x, as: activationType)
        let reference = Kernels.dot(wq, activation, type: type, count: n, .reference)
        let fast = Kernels.dot(wq, activation, type: type, count: n, .fast)
        // On a CPU with VNNI, its kernels give the AVX2 kernels' bits (integer sums are exact either way).
        let withoutVNNI = Kernels.dot(wq, activation, type: type, count: n, .fast, vnni: false)
        #expect(fast.bitPattern == withoutVNNI.bitPattern, "\(type) \(fast) vs \(withoutVNNI) without VNNI")
        let scale = zip(w, x).map { abs($0 * $1) }.reduce(0, +)
        #expect(abs(fast - reference) / scale < Self.maxDotProductDifference, "\(type) \(fast) vs \(reference)")
        // Against the exact product of the (dequantized) weights with the original activations.
        let wd = Kernels.dequantize(wq, as: type, count: n)
        let exact = zip(wd, x).map { Double($0) * Double($1) }.reduce(0, +)
        #expect(abs(Double(reference) - exact) / Double(scale) < 0.01, "\(type) \(reference) vs \(exact)")
    }
}
