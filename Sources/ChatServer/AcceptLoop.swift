// The accept loop both listeners share: each connection runs as a child task of a discarding task group
// (a finished connection's task frees its memory at once), until the listening channel closes.
import NIOCore

extension NIOAsyncChannel where Inbound: Sendable, Outbound == Never {
    /// Hands every accepted connection to `serve` in its own child task until the listener closes, then
    /// waits for those tasks (and `alongside`, a task of the server's own that must end by itself then).
    /// `serve` does not throw: one connection's failure never ends the server.
    func acceptEach(
        alongside companion: (@Sendable () async -> Void)? = nil, _ serve: @escaping @Sendable (Inbound) async -> Void
    ) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            if let companion { group.addTask { await companion() } }
            try await executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { await serve(connection) }
                }
            }
        }
    }
}
