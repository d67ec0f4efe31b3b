// KernelBandwidth: how close a decoding matrix product comes to the machine's memory bandwidth. Decoding
// one token reads every weight once, so a dot kernel is good when it streams weights nearly as fast as
// the memory delivers them. Both figures are measured here in one run, on the same threads and on
// buffers far larger than the caches, so `enclave bench model --bandwidth` can print their ratio; in pairs
// taken back to back, because on a shared host the bandwidth itself drifts by half within minutes.
internal import CKernels
public import GGUF

/// Streaming rates, in bytes per second.
public enum KernelBandwidth {
    /// The read bandwidth: `threads` threads each summing its share of a `bytes`-byte f32 buffer (an AVX2
    /// or NEON dot of the buffer with itself, one load per element), best of `repetitions`.
    public static func memoryRead(bytes: Int = 256 << 20, threads: Int, repetitions: Int = 5) -> Double {
        let pool = ThreadPool(threads: threads)
        let reader = ReadBuffer(bytes: bytes)
        defer { reader.deallocate() }
        return best(bytes: bytes, repetitions: repetitions) { reader.read(pool) }
    }

    /// A weight type's one-token product as a share of the read bandwidth, measured in `pairs` pairs taken
    /// one right after the other (the read, then the product, best of `repetitions` each), so that a machine
    /// whose bandwidth drifts during the run (a shared host) moves both sides of a pair alike.
    public struct Share: Sendable {
        /// The products' rates and the shares (product / read), one per pair, in measurement order.
        public var rates: [Double]
        public var shares: [Double]
        public var medianRate: Double { median(rates) }
        public var medianShare: Double { median(shares) }
    }

    public static func share(
        type: GGMLType, cols: Int = 2048, bytes: Int = 256 << 20, threads: Int, pairs: Int = 5, repetitions: Int = 3
    ) -> Share {
        let pool = ThreadPool(threads: threads)
        let reader = ReadBuffer(bytes: bytes)
        let product = Product(type: type, cols: cols, bytes: bytes)
        defer {
            reader.deallocate()
            product.deallocate()
        }
        var result = Share(rates: [], shares: [])
        for _ in 0..<max(1, pairs) {
            let read = best(bytes: bytes, repetitions: repetitions) { reader.read(pool) }
            let rate = best(bytes: product.bytes, repetitions: repetitions) { product.run(pool) }
            result.rates.append(rate)
            result.shares.append(rate / read)
        }
        return result
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    private static func best(bytes: Int, repetitions: Int, _ body: () -> Void) -> Double {
        body()  // warm-up: page faults, thread wake-up
        var fastest = Double.infinity
        for _ in 0..<max(1, repetitions) {
            let start = ContinuousClock.now
            body()
            fastest = min(fastest, (ContinuousClock.now - start) / .seconds(1))
        }
        return Double(bytes) / fastest
    }
}

private struct StreamJob {
    var data: UnsafeMutablePointer<Float>
    var count: Int
    var sink: Float = 0
}

private func streamTask(_ context: UnsafeMutableRawPointer?, _ ith: Int32, _ nth: Int32) {
    let job = context!.assumingMemoryBound(to: StreamJob.self)
    let per = (job.pointee.count + Int(nth) - 1) / Int(nth)
    let begin = Int(ith) * per
    let n = max(0, min(per, job.pointee.count - begin))
    let part = job.pointee.data + begin
    let sum = ck_dot_f32(Int32(n), part, part)
    if sum.isNaN { job.pointee.sink = sum }  // keeps the sum observable without a data race on `sink`
}

/// A buffer of f32 far larger than the caches, read by every thread of a pool (each its share).
private struct ReadBuffer {
    let data: UnsafeMutablePointer<Float>
    let count: Int

    init(bytes: Int) {
        count = bytes / 4
        data = .allocate(capacity: count)
        data.initialize(repeating: 0.5, count: count)
    }

    func read(_ pool: ThreadPool) {
        var job = StreamJob(data: data, count: count)
        withUnsafeMutablePointer(to: &job) { pool.run(streamTask, UnsafeMutableRawPointer($0)) }
    }

    func deallocate() { data.deallocate() }
}

/// A weight matrix of one type far larger than the caches and one quantized activation row: one-token
/// products over a pool.
private struct Product {
    let weights: UnsafeMutableRawPointer
    let activation: UnsafeMutableRawPointer
    let out: UnsafeMutablePointer<Float>
    let type: GGMLType
    let rows: Int
    let cols: Int
    var bytes: Int { rows * type.rowBytes(cols) }

    init(type: GGMLType, cols: Int, bytes: Int) {
        self.type = type
        self.cols = cols
        rows = bytes / type.rowBytes(cols)
        let total = rows * type.rowBytes(cols)
        weights = .allocate(byteCount: total, alignment: 64)
        weights.initializeMemory(as: UInt8.self, repeating: 0x11, count: total)
        let row = Kernels.quantize([Float](repeating: 0.25, count: cols), as: Kernels.activationType(for: type))
        let copy = UnsafeMutableRawPointer.allocate(byteCount: row.count, alignment: 64)
        row.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: row.count) }
        activation = copy
        out = .allocate(capacity: rows)
        out.initialize(repeating: 0, count: rows)
    }

    func run(_ pool: ThreadPool) {
        var job = ck_matvec_job(
            weights: UnsafeRawPointer(weights), type: Int32(type.rawValue), rows: Int32(rows), cols: Int32(cols),
            tokens: 1, activation: UnsafeRawPointer(activation), activation_stride: 0, bias: nil, out: out,
            out_stride: Int32(rows), sessions: 0, batch_tokens: 0, batch_first: 0)
        ck_matvec(pool.pointer, &job)
    }

    func deallocate() {
        weights.deallocate()
        activation.deallocate()
        out.deallocate()
    }
}
