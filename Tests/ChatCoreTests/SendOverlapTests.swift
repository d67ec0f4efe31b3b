// The send path runs independent durable writes side by side (the user message's commit beside the
// decision record, the reply's commit beside the call record) without giving up any ordering that
// matters: the provider sees nothing unless both of the first pair succeeded, `send` returns only after
// both of the second did, the prompt holds the same earlier turns, and the audit log's order is the same.
import Audit
import ChatCore
import ChatCoreTestSupport
import Foundation
import Inference
import Storage
import Synchronization
import Testing

/// A one-shot event that can be awaited with a deadline (the deadline only turns a hang into a failure).
actor Signal {
    private var fired = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func fire() {
        fired = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }

    /// True when the signal fired before `deadline` passed.
    func wait(deadline: Duration = .seconds(10)) async -> Bool {
        if fired { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForever() }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            if !first { fire() }
            return first
        }
    }

    private func waitForever() async -> Bool {
        if fired { return true }
        await withCheckedContinuation { waiters.append($0) }
        return true
    }
}

/// The real Store with hooks on append: fail a role's append, or hold it until a signal.
final class HookedStore: ChatStore {
    let inner: Store
    let failing: Set<String>
    /// Role → the signal that append waits for, and where it notes whether it came in time.
    let holds: [String: Signal]
    let overlapped = Overlaps()

    init(_ inner: Store, failing: Set<String> = [], holds: [String: Signal] = [:]) {
        self.inner = inner
        self.failing = failing
        self.holds = holds
    }

    func append(_ message: NewMessage, to id: ConversationID) async throws -> Int {
        if let hold = holds[message.role] { await overlapped.note(message.role, await hold.wait()) }
        if failing.contains(message.role) { throw CocoaError(.fileWriteOutOfSpace) }
        return try await inner.append(message, to: id)
    }

    func user(named name: String) async throws -> UserRecord? { try await inner.user(named: name) }
    func updateUser(_ user: UserRecord) async throws { try await inner.updateUser(user) }
    func changeCounter() async throws -> Int { try await inner.changeCounter() }
    func createConversation(owner: String, title: String?, tags: Set<String>) async throws -> ConversationID {
        try await inner.createConversation(owner: owner, title: title, tags: tags)
    }
    func conversation(_ id: ConversationID) async throws -> ConversationSummary? { try await inner.conversation(id) }
    func head(_ id: ConversationID) async throws -> ConversationHead? { try await inner.head(id) }
    func listConversations(owner: String) async throws -> ConversationListing {
        try await inner.listConversations(owner: owner)
    }
    func history(_ id: ConversationID, limit: Int?) async throws -> [MessageRecord] {
        try await inner.history(id, limit: limit)
    }
    func addTags(_ tags: Set<String>, to id: ConversationID) async throws -> Set<String> {
        try await inner.addTags(tags, to: id)
    }
    func setProvider(_ name: String, for id: ConversationID) async throws { try await inner.setProvider(name, for: id) }
    func delete(_ id: ConversationID) async throws { try await inner.delete(id) }
    func addFeedback(conversation id: ConversationID, user: String, up: Bool, comment: String?) async throws {
        try await inner.addFeedback(conversation: id, user: user, up: up, comment: comment)
    }
}

/// Which held appends saw their signal in time.
actor Overlaps {
    private(set) var seen: [String: Bool] = [:]
    func note(_ role: String, _ inTime: Bool) { seen[role] = inTime }
}

/// A real Store and AuditLog in a temporary directory; the Store behind `HookedStore`, the log's hooks
/// fire a signal when a record of an action is submitted (the log's thread starts writing it at once) and
/// can fail the writes of chosen actions.
struct OverlapSetup {
    let backends: TestBackends
    let store: HookedStore
    let policy: PolicyDirectoryGate

    init(
        storeFailing: Set<String> = [], holds: [String: Signal] = [:], signals: [String: Signal] = [:],
        auditFailing: Set<String> = []
    ) async throws {
        backends = try await TestBackends()
        store = HookedStore(backends.store, failing: storeFailing, holds: holds)
        policy = try await backends.policy()
        backends.audit.fail(actions: auditFailing)
        backends.audit.onSubmit { event in
            if let signal = signals[event.action] { Task { await signal.fire() } }
        }
    }

    /// The actions of the durable audit records, in order.
    func actions() throws -> [String] { try backends.events().map(\.action) }
}

@Suite struct SendOverlapTests {
    let alice = Principal(name: "alice", role: .staff, groups: [])

    func core(_ setup: OverlapSetup, _ gateway: RecordingGateway, historyTurns: Int = 20) -> ChatCore {
        var configuration = ChatCore.Configuration()
        configuration.historyTurns = historyTurns
        return ChatCore(
            store: setup.store, passwords: TestPasswords(), policy: setup.policy, gateway: gateway.gateway,
            audit: setup.backends.audit, configuration: configuration)
    }

    func send(_ core: ChatCore, _ text: String, to conversation: String? = nil) async throws(ChatFailure)
        -> SendSummary
    {
        try await core.send(
            text, conversation: conversation, requestedModel: nil, as: alice, origin: "test", emit: { _ in })
    }

    @Test func theMessageCommitOverlapsTheDecisionAndTheReplyCommitOverlapsTheCallRecord() async throws {
        let decision = Signal()
        let call = Signal()
        let setup = try await OverlapSetup(
            holds: ["user": decision, "assistant": call], signals: ["model.decision": decision, "model.call": call])
        let gateway = RecordingGateway()
        let summary = try await send(core(setup, gateway), "overlap please")
        // Each append waited for its audit record to start: had they run one after the other, it would not
        // have come (the deadline would have passed).
        #expect(await setup.store.overlapped.seen == ["user": true, "assistant": true])
        // And `send` returned only after both finished.
        #expect(try await setup.backends.history(of: summary.conversation).map(\.role) == ["user", "assistant"])
        #expect(try setup.actions() == ["model.decision", "model.call"])
        #expect(gateway.calls.count == 1)
    }

    @Test func aFailingMessageCommitMeansNoProviderCall() async throws {
        let setup = try await OverlapSetup(storeFailing: ["user"])
        let gateway = RecordingGateway()
        await #expect(throws: ChatFailure.internal()) { _ = try await send(core(setup, gateway), "hi") }
        #expect(gateway.calls.isEmpty)
        #expect(try setup.actions().contains("model.call") == false)
    }

    @Test func aFailingDecisionRecordMeansNoProviderCallAndTheMessageIsStillStored() async throws {
        let setup = try await OverlapSetup(auditFailing: ["model.decision"])
        let gateway = RecordingGateway()
        await #expect(throws: ChatFailure.internal()) { _ = try await send(core(setup, gateway), "hi") }
        #expect(gateway.calls.isEmpty)
        #expect(try await setup.backends.latestHistory(of: "alice").map(\.body) == ["hi"])
    }

    @Test func aFailingReplyCommitOrCallRecordFailsTheMessageAfterBothWereTried() async throws {
        let replyFails = try await OverlapSetup(storeFailing: ["assistant"])
        await #expect(throws: ChatFailure.internal()) {
            _ = try await send(core(replyFails, RecordingGateway()), "one two")
        }
        #expect(try replyFails.actions() == ["model.decision", "model.call"])

        let callFails = try await OverlapSetup(auditFailing: ["model.call"])
        await #expect(throws: ChatFailure.internal()) {
            _ = try await send(core(callFails, RecordingGateway()), "one two")
        }
        #expect(try await callFails.backends.latestHistory(of: "alice").map(\.role) == ["user", "assistant"])
    }

    @Test func thePromptHoldsTheSameEarlierTurnsAndTheLogTheSameOrder() async throws {
        let setup = try await OverlapSetup()
        let gateway = RecordingGateway()
        let core = core(setup, gateway, historyTurns: 3)
        let id = try await send(core, "one").conversation
        _ = try await send(core, "two", to: id)
        _ = try await send(core, "three", to: id)
        // historyTurns counts the new message: two earlier turns go with it (the echo answers with the text).
        let prompts = gateway.calls
        #expect(prompts[0] == [ChatTurn(role: .user, content: "one")])
        #expect(
            prompts[1] == [
                ChatTurn(role: .user, content: "one"), ChatTurn(role: .assistant, content: "one"),
                ChatTurn(role: .user, content: "two"),
            ])
        #expect(
            prompts[2] == [
                ChatTurn(role: .user, content: "two"), ChatTurn(role: .assistant, content: "two"),
                ChatTurn(role: .user, content: "three"),
            ])
        let alone = RecordingGateway()
        let single = try await OverlapSetup()
        let oneTurn = self.core(single, alone, historyTurns: 1)
        let lone = try await send(oneTurn, "first").conversation
        _ = try await send(oneTurn, "second", to: lone)
        #expect(alone.calls.last == [ChatTurn(role: .user, content: "second")])
        #expect(
            try setup.actions()
                == Array(
                    repeating: ["model.decision", "model.call"], count: 3
                ).flatMap { $0 })
        #expect(try single.actions().count == 4)
    }
}
