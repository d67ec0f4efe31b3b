// RunState: the scratch buffers for one wave of activations through the network, sized for a batch of
// up to `batchCapacity` tokens. Allocated once per model and reused for every call.
internal import CKernels

/// A float buffer with a fixed size, freed with its owner.
final class FloatBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int) {
        self.count = max(count, 1)
        pointer = .allocate(capacity: self.count)
        pointer.initialize(repeating: 0, count: self.count)
    }
    deinit { pointer.deallocate() }
}

/// A raw byte buffer (quantized activations), 64-byte aligned.
final class ByteBuffer {
    let pointer: UnsafeMutableRawPointer
    let count: Int
    init(_ count: Int) {
        self.count = max(count, 1)
        pointer = .allocate(byteCount: self.count, alignment: 64)
    }
    deinit { pointer.deallocate() }
}

final class RunState {
    let batchCapacity: Int
    let x: FloatBuffer  // (batch, dim) residual stream
    let xb: FloatBuffer  // (batch, max(dim, qDim)) normalised input / attention output
    let xb2: FloatBuffer  // (batch, dim) projection output
    let q: FloatBuffer  // (batch, qDim)
    let k: FloatBuffer  // (batch, kvDim)
    let v: FloatBuffer  // (batch, kvDim)
    let hb: FloatBuffer  // (batch, hiddenDim) gate, then silu(gate)·up
    let hb2: FloatBuffer  // (batch, hiddenDim) up
    let quantized: ByteBuffer  // (batch, row bytes of max(dim, hiddenDim) as q8_1 or q8_K) dot activations
    let rope: FloatBuffer  // (ropeDimensions) cos, sin interleaved for one position
    var attentionScratch: FloatBuffer  // (threads, CK_ATTENTION_ROWS × context) rows of scores
    var transposedValues: FloatBuffer  // (kvDim, context) a prompt's values transposed for the attention
    let dequantized: [FloatBuffer]  // per thread (tileRows × max(dim, hiddenDim)) weight tiles for sgemm

    /// Weight rows expanded per sgemm call: each call packs the batch's activations again, so fewer, larger
    /// tiles pack them less often (128 rows: 1 MiB of f32 per thread at 2,048 columns).
    static let tileRows = 128

    /// Bytes of one token's quantized activations, `wide` elements: Q8_1 takes the most bytes per
    /// element of the 32-element formats, Q8_K of all (in rows of 256).
    static func activationRowBytes(wide: Int) -> Int {
        let wideK = (wide + Int(CK_QK_K) - 1) / Int(CK_QK_K) * Int(CK_QK_K)
        let q8K = ck_row_bytes(Int32(CK_TYPE_Q8_K), Int32(wideK))
        return max(ck_row_bytes(Int32(CK_TYPE_Q8_1), Int32(wide)), q8K)
    }

    /// The bytes `init` allocates for these arguments (the buffers below, summed), once the attention
    /// scratch has grown to `context` positions.
    static func bytes(config c: ModelConfig, batchCapacity b: Int, threads: Int, context: Int) -> Int {
        let qDim = c.headCount * c.headDim
        let wide = max(c.dim, c.hiddenDim, qDim)
        let perToken = 2 * c.dim + max(c.dim, qDim) + qDim + 2 * c.kvDim + 2 * c.hiddenDim
        let perThread = max(256, context) + tileRows * wide
        let floats = b * perToken + c.vocabularySize + c.ropeDimensions + threads * perThread
        return floats * MemoryLayout<Float>.size + b * activationRowBytes(wide: wide)
    }

    init(config c: ModelConfig, batchCapacity: Int, threads: Int) {
        self.batchCapacity = batchCapacity
        let qDim = c.headCount * c.headDim
        let wide = max(c.dim, c.hiddenDim, qDim)
        x = FloatBuffer(batchCapacity * c.dim)
        xb = FloatBuffer(batchCapacity * max(c.dim, qDim))
        xb2 = FloatBuffer(batchCapacity * c.dim)
        q = FloatBuffer(batchCapacity * qDim)
        k = FloatBuffer(batchCapacity * c.kvDim)
        v = FloatBuffer(batchCapacity * c.kvDim)
        hb = FloatBuffer(batchCapacity * c.hiddenDim)
        hb2 = FloatBuffer(batchCapacity * c.hiddenDim)
        quantized = ByteBuffer(batchCapacity * Self.activationRowBytes(wide: wide))
        rope = FloatBuffer(c.ropeDimensions)
        attentionScratch = FloatBuffer(threads * 256)
        transposedValues = FloatBuffer(0)
        dequantized = (0..<threads).map { _ in FloatBuffer(Self.tileRows * wide) }
    }
}
