// KernelBandwidth: how close a decoding matrix product comes to the machine's memory bandwidth. Decoding
// one token reads every weight once, so a dot kernel is good when it streams weights nearly as fast as
// the memory delivers them. Both figures are measured here in one run, on the same threads and on
// buffers far larger than the caches, so `enclave bench model --bandwidth` can print their ratio.
internal import CKernels
public import GGUF

/// Streaming rates, in bytes per second.
public enum KernelBandwidth {
    /// The read bandwidth: `threads` threads each summing its share of a `bytes`-byte f32 buffer (an AVX2
    /// or NEON dot of the buffer with itself, one load per element), best of `repetitions`.
    public static func memoryRead(bytes: Int = 256 << 20, threads: Int, repetitions: Int = 5) -> Double {
        let count = bytes / 4
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0.5, count: count)
        let pool = ThreadPool(threads: threads)
        var job = StreamJob(data: buffer, count: count)
        return best(bytes: bytes, repetitions: repetitions) {
            withUnsafeMutablePointer(to: &job) { pool.run(streamTask, UnsafeMutableRawPointer($0)) }
        }
    }

    /// The rate at which one-token matrix products stream a `bytes`-byte matrix of `type` weights (rows of
    /// `cols`), best of `repetitions`. The weight bytes are a fixed pattern: speed does not depend on them.
    public static func matvec(
        type: GGMLType, cols: Int = 2048, bytes: Int = 256 << 20, threads: Int, repetitions: Int = 5
    ) -> Double {
        let rows = bytes / type.rowBytes(cols)
        let total = rows * type.rowBytes(cols)
        let weights = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 64)
        defer { weights.deallocate() }
        weights.initializeMemory(as: UInt8.self, repeating: 0x11, count: total)
        var activation = Kernels.quantize([Float](repeating: 0.25, count: cols), as: Kernels.activationType(for: type))
        var out = [Float](repeating: 0, count: rows)
        let pool = ThreadPool(threads: threads)
        return activation.withUnsafeMutableBytes { a in
            out.withUnsafeMutableBufferPointer { o in
                var job = ck_matvec_job(
                    weights: UnsafeRawPointer(weights), type: Int32(type.rawValue), rows: Int32(rows),
                    cols: Int32(cols), tokens: 1, activation: UnsafeRawPointer(a.baseAddress),
                    activation_stride: a.count, bias: nil, out: o.baseAddress, out_stride: Int32(rows))
                return best(bytes: total, repetitions: repetitions) { ck_matvec(pool.pointer, &job) }
            }
        }
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
