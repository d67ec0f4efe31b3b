// The Store's work runs on a dispatch queue of its own, never on Swift's cooperative pool: a commit
// blocks for its fsync, and the pool's few threads carry every session's reply.
import Foundation
import Testing

@testable import Storage

extension Store {
    /// Whether this actor-isolated code is running on a QueueExecutor's queue.
    fileprivate func runsOnItsQueue() -> Bool { QueueExecutor.isCurrent }
}

@Suite struct StoreExecutorTests {
    @Test func theStoresWorkRunsOnItsOwnQueueNotOnTheCooperativePool() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.file("s.sqlite"), keyRing: makeKeyRing())
        // The test's own task runs on the pool, so the mark it sees is false: the check tells them apart.
        #expect(!QueueExecutor.isCurrent)
        #expect(await store.runsOnItsQueue())
        let alice = UserRecord(name: "alice", role: .staff, passwordHash: "scrypt$x")
        try await store.createUser(alice)
        #expect(try await store.user(named: "alice") == alice)
        #expect(await store.runsOnItsQueue())
    }
}
