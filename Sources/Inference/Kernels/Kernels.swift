// Kernels: Swift's view of the CKernels quantized-math functions — quantize, dequantize and dot products
// for ggml's block types, in a reference (scalar) and a fast (dispatched SIMD) flavour. Public so the
// tests can hold each fast kernel against its scalar twin.
internal import CKernels
public import GGUF

/// Entry points to the numeric kernels, by ggml type.
public enum Kernels {
    /// Which implementation to call.
    public enum Flavour: Sendable { case reference, fast }

    /// Weight types whose rows the engine can multiply.
    public static let supportedWeightTypes: [GGMLType] = [
        .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs,
    ]

    /// The name of the fast variant this CPU uses ("avx2" or "scalar").
    public static var fastVariant: String { String(cString: ck_kernel_variant()) }

    /// The activation format a dot product with `weights` rows takes (q8_0, q8_1, q8_K or f32).
    public static func activationType(for weights: GGMLType) -> GGMLType {
        GGMLType(rawValue: UInt32(ck_activation_type(Int32(weights.rawValue)))) ?? .f32
    }

    /// Encodes `values` (count a multiple of the block size) as `type`: the 32-element types, and q8_K.
    public static func quantize(_ values: [Float], as type: GGMLType, _ flavour: Flavour = .reference) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: type.rowBytes(values.count))
        values.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBytes { y in
                if flavour == .fast, type == .q8_0 || type == .q8_1 || type == .q8_K {
                    ck_quantize_row(Int32(type.rawValue), x.baseAddress, y.baseAddress, Int32(values.count))
                } else {
                    ck_quantize_row_ref(Int32(type.rawValue), x.baseAddress, y.baseAddress, Int32(values.count))
                }
            }
        }
        return out
    }

    /// Decodes `count` elements of `type` from `bytes`.
    public static func dequantize(_ bytes: [UInt8], as type: GGMLType, count: Int, _ flavour: Flavour = .reference)
        -> [Float]
    {
        precondition(bytes.count >= type.rowBytes(count))
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { x in
            out.withUnsafeMutableBufferPointer { y in
                if flavour == .fast {
                    ck_dequantize_row(Int32(type.rawValue), x.baseAddress, y.baseAddress, Int32(count))
                } else {
                    ck_dequantize_row_ref(Int32(type.rawValue), x.baseAddress, y.baseAddress, Int32(count))
                }
            }
        }
        return out
    }

    /// Dot product of one weight row (`weights`, in `type`) with activations already in `activationType(for:)`
    /// (the fast kernel without its VNNI variant when `vnni` is false).
    public static func dot(
        _ weights: [UInt8], _ activation: [UInt8], type: GGMLType, count: Int, _ flavour: Flavour, vnni: Bool = true
    ) -> Float {
        // Process-wide, but either choice gives the same bits, so a product running meanwhile is unaffected.
        if !vnni { ck_force_no_vnni(1) }
        defer { if !vnni { ck_force_no_vnni(0) } }
        return weights.withUnsafeBytes { x in
            activation.withUnsafeBytes { y in
                flavour == .fast
                    ? ck_vec_dot(Int32(type.rawValue), Int32(count), x.baseAddress, y.baseAddress)
                    : ck_vec_dot_ref(Int32(type.rawValue), Int32(count), x.baseAddress, y.baseAddress)
            }
        }
    }

    /// How llama.cpp's AVX2 build sums a K-quant, Q4_0 or IQ4_NL product once its integers are exact (CKernels
    /// ckernels.h).
    public enum SumOrder: Int32, Sendable, CaseIterable {
        /// ggml_vec_dot: one token, and batches under 8 tokens.
        case vecDot = 0
        /// Its tiled K-quant product: batches of 8 tokens or more.
        case tiled = 1
        /// Q4_K repacked (a multiple of 8 rows): one token, or a batch's last tokens.
        case gemv = 2
        /// Q4_K repacked: a batch's tokens in whole groups of four from its start.
        case gemm = 3
        /// Q4_0 and IQ4_NL repacked (a multiple of 8 rows): every token, block by block.
        case blocks = 4
    }

    /// Row · activation of a K-quant (Q2_K..Q6_K, IQ4_XS) summed in `order`, from its exact integers: the
    /// portable twin's (`reference`) or this CPU's fastest (`fast`); a Q4_0 or IQ4_NL row's in `.blocks`.
    public static func dot(
        _ weights: [UInt8], _ activation: [UInt8], type: GGMLType, count: Int, order: SumOrder, _ flavour: Flavour
    ) -> Float {
        let sums: ck_ksums_fn = flavour == .fast ? ck_ksums_function(Int32(type.rawValue)) : ck_ksums_ref
        return weights.withUnsafeBytes { x in
            activation.withUnsafeBytes { y in
                ck_ordered_product(
                    Int32(type.rawValue), order.rawValue, Int32(count), x.baseAddress, y.baseAddress, sums)
            }
        }
    }

    /// out[t][r] = row r of `weights` · token t of `activations` (+ bias[r]) for `rows` rows of `count`
    /// elements and `tokens` tokens (each in `activationType(for: type)`), computed as the engine multiplies a
    /// batch: over a pool of `threads`, through the batched tile kernels where this CPU has them (without
    /// their VNNI variant when `vnni` is false), in llama.cpp's order for the batch (`SumOrder`),
    /// or when `sessions`, each token as if alone (a decoding step over many sessions).
    public static func matmul(
        _ weights: [UInt8], rows: Int, _ activations: [UInt8], tokens: Int, type: GGMLType, count: Int,
        bias: [Float]? = nil, threads: Int = 1, vnni: Bool = true, sessions: Bool = false
    ) -> [Float] {
        // Process-wide, but either choice gives the same bits, so a product running meanwhile is unaffected.
        if !vnni { ck_force_no_vnni(1) }
        defer { if !vnni { ck_force_no_vnni(0) } }
        let activationBytes = activationType(for: type).rowBytes(count)
        precondition(weights.count >= rows * type.rowBytes(count) && activations.count >= tokens * activationBytes)
        var out = [Float](repeating: 0, count: rows * tokens)
        let pool = ThreadPool(threads: threads)
        let biasValues = bias ?? []
        weights.withUnsafeBytes { w in
            activations.withUnsafeBytes { a in
                biasValues.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        var job = ck_matvec_job(
                            weights: w.baseAddress, type: Int32(type.rawValue), rows: Int32(rows), cols: Int32(count),
                            tokens: Int32(tokens), activation: a.baseAddress, activation_stride: activationBytes,
                            bias: bias == nil ? nil : b.baseAddress, out: o.baseAddress, out_stride: Int32(rows),
                            sessions: sessions ? 1 : 0, batch_tokens: 0, batch_first: 0)
                        ck_matvec(pool.pointer, &job)
                    }
                }
            }
        }
        return out
    }

    /// IEEE half → float and back (round to nearest even).
    public static func halfToFloat(_ h: UInt16) -> Float { ck_fp16_to_fp32(h) }
    public static func floatToHalf(_ f: Float) -> UInt16 { ck_fp32_to_fp16(f) }

    /// Block sizes of the C structs, for layout tests.
    public static var blockLayouts: [GGMLType: Int] {
        [
            .q4_0: MemoryLayout<ck_block_q4_0>.size, .q4_1: MemoryLayout<ck_block_q4_1>.size,
            .q5_0: MemoryLayout<ck_block_q5_0>.size, .q5_1: MemoryLayout<ck_block_q5_1>.size,
            .q8_0: MemoryLayout<ck_block_q8_0>.size, .q8_1: MemoryLayout<ck_block_q8_1>.size,
            .q4_K: MemoryLayout<ck_block_q4_K>.size, .q5_K: MemoryLayout<ck_block_q5_K>.size,
            .q6_K: MemoryLayout<ck_block_q6_K>.size, .q8_K: MemoryLayout<ck_block_q8_K>.size,
            .q2_K: MemoryLayout<ck_block_q2_K>.size, .q3_K: MemoryLayout<ck_block_q3_K>.size,
            .iq4_nl: MemoryLayout<ck_block_iq4_nl>.size, .iq4_xs: MemoryLayout<ck_block_iq4_xs>.size,
        ]
    }
}
