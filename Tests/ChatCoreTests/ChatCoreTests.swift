// ChatCore's use cases without sockets: lock-out, fail-closed audit, policy blocking, the order of
// the walk (user message stored before the provider sees anything), and the per-user limits.
import Audit
import ChatCore
import ChatCoreTestSupport
import Foundation
import Inference
import Policy
import Routing
import Storage
import Synchronization
import Testing

/// A provider `local` that records the turns that reached it (the order check; the empty system prompt
/// left out) and echoes, behind the real gateway.
final class RecordingGateway: Sendable {
    private final class Log: Sendable {
        let turns = Mutex<[[ChatTurn]]>([])
    }

    private let log = Log()
    let gateway: ProviderGateway

    init(residency: Residency = .onPrem) {
        let echo = TestProvider.echo(name: "local", residency: residency, model: "m1")
        let log = log
        gateway =
            TestProvider(name: "local", residency: residency, model: "m1") { request in
                log.turns.withLock { $0.append(request.messages.filter { $0.role != .system }) }
                return echo.stream(request)
            }.gateway
    }

    /// The prompts that reached the provider, in order.
    var calls: [[ChatTurn]] { log.turns.withLock { $0 } }
}

/// ChatCore over a real Store and AuditLog in a temporary directory, alice's account, and a recording provider.
struct Fixture {
    let backends: TestBackends
    let gateway: RecordingGateway
    let core: ChatCore
    var audit: HookedAudit { backends.audit }

    init(residency: Residency = .onPrem, configure: (inout ChatCore.Configuration) -> Void = { _ in }) async throws {
        backends = try await TestBackends(users: [
            UserRecord(name: "alice", role: .staff, groups: [], passwordHash: "test:alice-password")
        ])
        gateway = RecordingGateway(residency: residency)
        var configuration = ChatCore.Configuration()
        configure(&configuration)
        core = ChatCore(
            store: backends.store, passwords: TestPasswords(), policy: try await backends.policy(),
            gateway: gateway.gateway,
            audit: backends.audit, configuration: configuration)
    }

    func login() async throws(ChatFailure) -> Principal {
        try await core.login(name: "alice", password: "alice-password", origin: "test")
    }

    func send(_ text: String, as user: Principal) async throws(ChatFailure) -> SendSummary {
        try await core.send(text, conversation: nil, requestedModel: nil, as: user, origin: "test", emit: { _ in })
    }
}

@Suite struct ChatCoreTests {
    @Test func tenFailuresLockTheAccountAndTheLockOutIsAudited() async throws {
        let fixture = try await Fixture()
        for _ in 0..<10 {
            await #expect(throws: ChatFailure(.authFailed, "unknown user or wrong password")) {
                try await fixture.core.login(name: "alice", password: "guess", origin: "test")
            }
        }
        // The eleventh attempt, even with the right password, is refused.
        await #expect(throws: ChatFailure.self) { _ = try await fixture.login() }
        do {
            _ = try await fixture.login()
        } catch {
            #expect(error.code == .lockedOut)
        }
        let actions = try fixture.backends.events().map { "\($0.action):\($0.outcome)" }
        #expect(actions.filter { $0 == "auth.login:failed" }.count == 10)
        #expect(actions.filter { $0 == "auth.lockout:locked" }.count == 1)
        #expect(actions.last == "auth.login:locked-out")
    }

    @Test func noAuditMeansNoLoginAndNoModelCall() async throws {
        let fixture = try await Fixture()
        let user = try await fixture.login()
        fixture.audit.setFailing(true)
        await #expect(throws: ChatFailure.internal()) { _ = try await fixture.login() }
        await #expect(throws: ChatFailure.internal()) { _ = try await fixture.send("hello", as: user) }
        #expect(fixture.gateway.calls.isEmpty)
    }

    @Test func theUserMessageIsStoredBeforeTheProviderSeesIt() async throws {
        let fixture = try await Fixture()
        let user = try await fixture.login()
        let summary = try await fixture.send("first question", as: user)
        #expect(summary.provider == "local")
        #expect(summary.tokens == 2)
        let turns = try #require(fixture.gateway.calls.first)
        #expect(turns == [ChatTurn(role: .user, content: "first question")])
        let stored = try await fixture.backends.history(of: summary.conversation)
        #expect(stored.map(\.role) == ["user", "assistant"])
        #expect(stored.last?.body == "first question")
        #expect(stored.last?.provider == "local")
    }

    @Test func aProviderPolicyDeniesIsBlockedWithTheRuleAndNeverCalled() async throws {
        let fixture = try await Fixture(residency: .external)
        let user = try await fixture.login()
        do {
            _ = try await fixture.send("hello", as: user)
            Issue.record("expected policy-blocked")
        } catch {
            #expect(error.code == .policyBlocked)
            #expect(error.text.hasPrefix("rule=on-prem-only tags=none"))
        }
        #expect(fixture.gateway.calls.isEmpty)
        let decision = try fixture.backends.events().last
        #expect(decision?.action == "model.decision")
        #expect(decision?.outcome == "denied")
        // The user's message was still stored first (acknowledged messages are never lost).
        let stored = try await fixture.backends.latestHistory(of: "alice")
        #expect(stored.map(\.role) == ["user"])
    }

    @Test func theMessageRateIsLimitedPerUser() async throws {
        let fixture = try await Fixture {
            $0.budget = UserLimiter.Budget(messagesPerMinute: 1, burst: 2, concurrentGenerations: 2)
        }
        let user = try await fixture.login()
        _ = try await fixture.send("one", as: user)
        _ = try await fixture.send("two", as: user)
        do {
            _ = try await fixture.send("three", as: user)
            Issue.record("expected rate-limited")
        } catch {
            #expect(error.code == .rateLimited)
        }
    }

    @Test func concurrentGenerationsAreBoundedPerUser() throws {
        let limiter = UserLimiter(budget: .init(messagesPerMinute: 600, burst: 10, concurrentGenerations: 1))
        try limiter.admit("alice")
        #expect(throws: ChatFailure.self) { try limiter.admit("alice") }
        try limiter.admit("bob")
        limiter.finish("alice")
        try limiter.admit("alice")
    }
}
