// Where a session's work runs: a chat message and a quick command on a NIO event loop (the
// connection's task prefers its channel's loop, so reading, answering and writing need no thread hop),
// a command that may be slow (/login's scrypt) on the global pool, where it holds up no other
// connection of the loop.
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
        note("models")
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

/// Test passwords, noting whether each check ran on an event loop thread.
final class ThreadNotingPasswords: PasswordVerifier {
    let onLoop = Mutex<[Bool]>([])
    func verify(_ password: String, against stored: String) -> Bool {
        onLoop.withLock { $0.append(MultiThreadedEventLoopGroup.currentEventLoop != nil) }
        return TestPasswords().verify(password, against: stored)
    }
    var decoyHash: String { TestPasswords().decoyHash }
}

@Suite struct EventLoopTaskExecutorTests {
    @Test func aMessageAndAQuickCommandRunOnTheEventLoopAndALoginOffIt() async throws {
        let gateway = ThreadNotingGateway()
        let passwords = ThreadNotingPasswords()
        try await TestServer.with(gateway: gateway, passwords: passwords) { server in
            try await server.client { client in
                try await client.login("alice", "alice-password")
                #expect(try await client.final("hello there").hasPrefix("OK conversation="))
                #expect(try await client.final("/models").hasPrefix("OK"))
                #expect(try await client.final("and again").hasPrefix("OK conversation="))
            }
        }
        let seen = gateway.seen.withLock { $0 }
        #expect(seen.map(\.0) == ["message", "models", "message"])
        #expect(seen.map(\.1) == [true, true, true])
        #expect(passwords.onLoop.withLock { $0 } == [false])
    }
}
