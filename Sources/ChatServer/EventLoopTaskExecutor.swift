// A connection's event loop as a Swift task executor. A session's task prefers it (ChatServer.serve),
// so a chat message is read, answered and written on the thread that owns its channel: no hop between
// the event loop and the cooperative pool per line read and per piece written. The actors the message
// goes through (the Store's reads, the policy store) run their part there too; what waits for an fsync
// does not: the Store's commits go to the global pool (StoreAdapter), the audit log has its own I/O
// queue. Commands, which may do slow work (scrypt, audit searches, policy loads), run on the global
// pool as well (Session.handle).
import NIOCore

/// Runs task jobs on one NIO event loop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
