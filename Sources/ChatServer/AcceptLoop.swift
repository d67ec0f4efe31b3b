// The accept loop both listeners share: each connection runs as a child task of a discarding task group
// (a finished connection's task frees its memory at once), until the listening channel closes.
import NIOCore

extension NIOAsyncChannel where Inbound: Sendable, Outbound == Never {
    /// Hands every accepted connection to `serve` in its own child task until the listener closes, then
    /// waits for those tasks. `serve` does not throw: one connection's failure never ends the server.
    func acceptEach(_ serve: @escaping @Sendable (Inbound) async -> Void) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { await serve(connection) }
                }
            }
        }
    }
}
