// Tests of the f32 kernels that follow llama.cpp's order of operations (CKernels/lanes.h): each
// dispatched (SIMD) kernel equals its portable twin bit for bit, the summation orders equal orders
// written out here independently, the expf approximation is within a few ulp of exp, and activation
// quantization rounds half to even as ggml's SIMD quantizers do.
import Foundation
import GGUF
import Inference
import Testing

struct FloatKernelTests {
    static func data(_ n: Int, seed: UInt64) -> [Float] {
        KernelTests.synthetic(n, seed: seed).enumerated().map { i, v in v * (i % 5 == 0 ? 37 : 0.3) }
    }

    /// Eight lanes, element i fused into lane i % 8, summed ((0+4)+(2+6)) + ((1+5)+(3+7)).
    static func lanesOrder(_ x: [Float], _ y: [Float]) -> Float {
        var l = [Float](repeating: 0, count: 8)
        for i in x.indices { l[i % 8] = l[i % 8].addingProduct(x[i], y[i]) }
        let even: Float = (l[0] + l[4]) + (l[2] + l[6])
        let odd: Float = (l[1] + l[5]) + (l[3] + l[7])
        return even + odd
    }

    /// 32 lanes: vectors (0+2)+(1+3), then lanes ((0+4)+(1+5)) + ((2+6)+(3+7)) (n a multiple of 32).
    static func quadOrder(_ x: [Float], _ y: [Float]) -> Float {
        var a = [Float](repeating: 0, count: 32)
        for i in x.indices { a[i % 32] = a[i % 32].addingProduct(x[i], y[i]) }
        var l = [Float](repeating: 0, count: 8)
        for j in 0..<8 {
            let outer: Float = a[j] + a[16 + j]
            let inner: Float = a[8 + j] + a[24 + j]
            l[j] = outer + inner
        }
        let low: Float = (l[0] + l[4]) + (l[1] + l[5])
        let high: Float = (l[2] + l[6]) + (l[3] + l[7])
        return low + high
    }

    @Test(arguments: [64, 128, 256, 40])
    func dotOrdersMatchTheirDefinitions(n: Int) {
        let x = Self.data(n, seed: 1)
        let y = Self.data(n, seed: 2)
        #expect(Kernels.dotLanes(x, y, .fast) == Self.lanesOrder(x, y))
        #expect(Kernels.dotLanes(x, y, .reference) == Self.lanesOrder(x, y))
        #expect(Kernels.dotQuad(x, y, .fast) == Kernels.dotQuad(x, y, .reference))
        if n % 32 == 0 { #expect(Kernels.dotQuad(x, y, .reference) == Self.quadOrder(x, y)) }
    }

    @Test func expApproximationIsWithinFewUlp() {
        var worst: Float = 0
        for i in 0..<20_000 {
            let x = -87 + Float(i) * 0.00875
            let exact = Float(Foundation.exp(Double(x)))
            worst = max(worst, abs(Kernels.expApproximation(x) - exact) / exact.ulp)
        }
        #expect(worst <= 2, "worst \(worst) ulp")
        #expect(Kernels.expApproximation(-.infinity) == 0 && Kernels.expApproximation(0) == 1)
        #expect(Kernels.expApproximation(-200) == 0 && Kernels.expApproximation(100) == .infinity)
    }

    @Test(arguments: [1, 5, 8, 37, 256])
    func softmaxFastEqualsReferenceAndSumsToOne(n: Int) {
        let x = Self.data(n, seed: 3).map { $0 / 4 }
        var fast = x
        var reference = x
        Kernels.softmax(&fast, .fast)
        Kernels.softmax(&reference, .reference)
        #expect(fast == reference)
        #expect(abs(reference.reduce(0, +) - 1) < 1e-5)
        let m = x.max()!
        let exact = x.map { Foundation.exp(Double($0 - m)) }
        let total = exact.reduce(0, +)
        for i in x.indices { #expect(abs(Double(reference[i]) - exact[i] / total) < 1e-6) }
    }

    @Test func swigluFastEqualsReference() {
        let gate = Self.data(1536 + 5, seed: 4)
        let up = Self.data(1536 + 5, seed: 5)
        var fast = gate
        var reference = gate
        Kernels.swiglu(&fast, up, .fast)
        Kernels.swiglu(&reference, up, .reference)
        #expect(fast == reference)
        for i in gate.indices {
            let exact = Double(gate[i]) / (1 + Foundation.exp(-Double(gate[i]))) * Double(up[i])
            #expect(abs(Double(reference[i]) - exact) <= 1e-5 * max(1, abs(exact)))
        }
    }

    @Test(arguments: [false, true])
    func ropeFusesTheFirstProduct(neox: Bool) {
        let (heads, dim, rotated) = (3, 16, 12)
        let x = Self.data(heads * dim, seed: 6)
        let table = (0..<rotated / 2).flatMap { i in [cosf(Float(i) * 0.7 + 0.1), sinf(Float(i) * 0.7 + 0.1)] }
        var fast = x
        var reference = x
        Kernels.rope(&fast, heads: heads, headDim: dim, ropeDims: rotated, neox: neox, table: table, .fast)
        Kernels.rope(&reference, heads: heads, headDim: dim, ropeDims: rotated, neox: neox, table: table, .reference)
        #expect(fast == reference)
        var expected = x
        for h in 0..<heads {
            for i in 0..<rotated / 2 {
                let (a, b) = neox ? (h * dim + i, h * dim + i + rotated / 2) : (h * dim + 2 * i, h * dim + 2 * i + 1)
                let (c, s) = (table[2 * i], table[2 * i + 1])
                expected[a] = (-(x[b] * s)).addingProduct(x[a], c)
                expected[b] = (x[b] * c).addingProduct(x[a], s)
            }
        }
        #expect(reference == expected)
    }

    @Test func activationQuantizationRoundsHalfToEven() {
        // amax 127 makes the scale 1, so each code is the value rounded: ties go to the even neighbour.
        var x = [Float](repeating: 0, count: 32)
        (x[0], x[1], x[2], x[3], x[4], x[5]) = (127, 2.5, -2.5, 3.5, 0.5, -1.5)
        for flavour in [Kernels.Flavour.reference, .fast] {
            let block = Kernels.quantize(x, as: .q8_0, flavour)
            let codes = block[2..<8].map { Int8(bitPattern: $0) }
            #expect(codes == [127, 2, -2, 4, 0, -2], "\(flavour)")
        }
    }

    /// GeGLU as ggml computes it for Gemma, written out here: the gate rounded to f16, tanh-GELU of that in f32,
    /// the result rounded to f16, times `up`; 0 from -10 down and the gate itself from 10 up. Every half in
    /// between is tried once, and random gates and ups besides.
    @Test func gegluEqualsTheF16GeluOfEveryHalf() {
        func expected(_ x: Float, _ up: Float) -> Float {
            if x <= -10 { return 0 * up }
            if x >= 10 { return x * up }
            let h = Float(Float16(x))
            // llama.cpp's build fuses 1 + 0.044715·h·h into one FMA when it fills its table.
            let inner = 0.797_884_56 * h * Float(1).addingProduct(0.044_715 * h, h)
            return Float(Float16(0.5 * h * (1 + tanhf(inner)))) * up
        }
        var gates = (0..<65536).map { Float(Float16(bitPattern: UInt16($0))) }.filter { $0.isFinite }
        var generator = SeededGenerator(seed: 7)
        gates += (0..<4096).map { _ in Float.random(in: -12...12, using: &generator) }
        let ups = gates.indices.map { _ in Float.random(in: -3...3, using: &generator) }
        var out = gates
        Kernels.geglu(&out, ups)
        let wrong = gates.indices.filter { out[$0].bitPattern != expected(gates[$0], ups[$0]).bitPattern }.count
        #expect(wrong == 0, "of \(gates.count) gates")
    }
}
