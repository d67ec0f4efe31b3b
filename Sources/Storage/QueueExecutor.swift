// The Store's executor: its jobs run in order on a serial dispatch queue, whose threads are not Swift's
// cooperative pool. SQLite blocks (a commit waits for fsync, a cold read for the disk), and the pool has
// one thread per core carrying every session; an actor on the default executor would hold one of those
// threads for the length of every fsync, and two commits at once would stall every reply in flight.
internal import Dispatch

/// A serial executor over a dispatch queue: one job at a time, in the order enqueued. Package-visible for
/// `enclave bench store`, whose plaintext baseline must run where the Store runs.
package final class QueueExecutor: SerialExecutor {
    /// Marks the queues of every QueueExecutor, so code can tell whether it runs on one.
    private static let mark = DispatchSpecificKey<Bool>()
    private let queue: DispatchQueue

    package init(label: String) {
        queue = DispatchQueue(label: label)
        queue.setSpecific(key: Self.mark, value: true)
    }

    /// Whether the calling code runs on a QueueExecutor's queue (not on the cooperative pool).
    static var isCurrent: Bool { DispatchQueue.getSpecific(key: mark) == true }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
