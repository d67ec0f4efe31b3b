// Where a session's work runs: a chat message on a NIO event loop (the connection's task prefers its
// channel's loop, so reading, answering and writing need no thread hop), a command on the global pool
// (commands may do slow work such as scrypt, which must not hold up the other connections of a loop).
import ChatCore
import NIOPosix
import Synchronization
import Testing

/// The echo gateway, noting whether each call came from an event loop thread.
final class ThreadNotingGateway: SimpleModelGateway {
    let inner = EchoGateway()
    /// (what, on an event loop?) in call order.
    let seen = Mutex<[(String, Bool)]>([])

    private func note(_ what: String) {
        let onLoop = MultiThreadedEventLoopGroup.currentEventLoop != nil
        seen.withLock { $0.append((what, onLoop)) }
    }

    func providers() -> [ProviderSummary] { inner.providers() }

    func unavailable() -> Set<String> {
        note("command")
        return []
    }

    func choose(decision: GateDecision, requested: String?, sticky: String?, conversation: String) -> ProviderSummary? {
        inner.choose(decision: decision, requested: requested, sticky: sticky, conversation: conversation)
    }

    var promptVersion: String { inner.promptVersion }

    func stream(provider: String, turns: [PromptTurn], maxTokens: Int) -> AsyncThrowingStream<GatewayEvent, any Error> {
        note("message")
        return inner.stream(provider: provider, turns: turns, maxTokens: maxTokens)
    }
}

@Suite struct EventLoopTaskExecutorTests {
    @Test func aMessageIsAnsweredOnTheEventLoopAndACommandOffIt() async throws {
        let gateway = ThreadNotingGateway()
        try await TestServer.with(gateway: gateway) { server in
            try await server.client { client in
                try await client.login("alice", "alice-password")
                #expect(try await client.final("hello there").hasPrefix("OK conversation="))
                #expect(try await client.final("/models").hasPrefix("OK"))
                #expect(try await client.final("and again").hasPrefix("OK conversation="))
            }
        }
        let seen = gateway.seen.withLock { $0 }
        #expect(seen.map(\.0) == ["message", "command", "message"])
        #expect(seen.map(\.1) == [true, false, true])
    }
}
