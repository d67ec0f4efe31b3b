// ThreadPool: the persistent workers (CKernels' ck_pool) that split each matrix product by rows.
// One pool per loaded model, used only by the thread that owns the model.
internal import CKernels

/// A fixed set of threads that run one job at a time; the calling thread takes part as worker 0.
final class ThreadPool {
    let pointer: OpaquePointer
    /// Number of participants, the caller included.
    let size: Int

    init(threads: Int) {
        pointer = ck_pool_create(Int32(max(1, threads)))
        size = Int(ck_pool_size(pointer))
    }

    deinit { ck_pool_destroy(pointer) }

    /// Runs `task(context, i, n)` on every participant and returns when all are done.
    func run(
        _ task: @convention(c) (UnsafeMutableRawPointer?, Int32, Int32) -> Void, _ context: UnsafeMutableRawPointer
    ) {
        ck_pool_run(pointer, task, context)
    }
}
