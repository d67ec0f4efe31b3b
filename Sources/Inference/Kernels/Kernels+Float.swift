// Kernels+Float: Swift's view of the f32 steps that follow llama.cpp's order of operations (CKernels'
// lanes.h): lane-ordered dot products, its expf approximation, softmax, SwiGLU, GeGLU and rotary embeddings.
// Public so the tests can hold each dispatched kernel against its portable twin, bit for bit.
internal import CKernels

extension Kernels {
    /// x · y in eight FMA lanes (element i in lane i % 8), lanes summed pairwise: llama.cpp's batch order.
    public static func dotLanes(_ x: [Float], _ y: [Float], _ flavour: Flavour) -> Float {
        precondition(x.count == y.count)
        return flavour == .fast
            ? ck_dot_lanes(Int32(x.count), x, y) : ck_dot_lanes_ref(Int32(x.count), x, y)
    }

    /// x · y in 32 FMA lanes reduced as ggml_vec_dot_f16 does: llama.cpp's single-token order.
    public static func dotQuad(_ x: [Float], _ y: [Float], _ flavour: Flavour) -> Float {
        precondition(x.count == y.count)
        return flavour == .fast
            ? ck_dot_quad(Int32(x.count), x, y) : ck_dot_quad_ref(Int32(x.count), x, y)
    }

    /// ggml's vectorised e^x approximation, one value (the portable reference).
    public static func expApproximation(_ x: Float) -> Float { ck_expf_ref(x) }

    /// Softmax of `x` in place.
    public static func softmax(_ x: inout [Float], _ flavour: Flavour) {
        let n = Int32(x.count)
        x.withUnsafeMutableBufferPointer {
            flavour == .fast ? ck_softmax($0.baseAddress, n) : ck_softmax_ref($0.baseAddress, n)
        }
    }

    /// gate = silu(gate) · up.
    public static func swiglu(_ gate: inout [Float], _ up: [Float], _ flavour: Flavour) {
        precondition(gate.count == up.count)
        let n = Int32(gate.count)
        gate.withUnsafeMutableBufferPointer { g in
            flavour == .fast ? ck_swiglu(g.baseAddress, up, n) : ck_swiglu_ref(g.baseAddress, up, n)
        }
    }

    /// gate = gelu(gate) · up, tanh-GELU over f16 as llama.cpp computes it (Gemma's feed-forward).
    public static func geglu(_ gate: inout [Float], _ up: [Float]) {
        precondition(gate.count == up.count)
        let n = Int32(gate.count)
        gate.withUnsafeMutableBufferPointer { ck_geglu($0.baseAddress, up, n) }
    }

    /// Rotates `heads` vectors of `headDim` floats in `x` by the cos/sin pairs in `table`.
    public static func rope(
        _ x: inout [Float], heads: Int, headDim: Int, ropeDims: Int, neox: Bool, table: [Float], _ flavour: Flavour
    ) {
        precondition(x.count >= heads * headDim && table.count >= ropeDims)
        x.withUnsafeMutableBufferPointer { v in
            let args = (Int32(heads), Int32(headDim), Int32(ropeDims), Int32(neox ? 1 : 0))
            if flavour == .fast {
                ck_rope(v.baseAddress, args.0, args.1, args.2, args.3, table)
            } else {
                ck_rope_ref(v.baseAddress, args.0, args.1, args.2, args.3, table)
            }
        }
    }
}
