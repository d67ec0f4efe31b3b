// The send path runs independent durable writes side by side (the user message's commit beside the
// decision record, the reply's commit beside the call record) without giving up any ordering that
// matters: the provider sees nothing unless both of the first pair succeeded, `send` returns only after
// both of the second did, the prompt holds the same earlier turns, and the audit log's order is the same.
import ChatCore
import ChatCoreTestSupport
import Foundation
import Inference
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
            if !first { await fire() }
            return first
        }
    }

    private func waitForever() async -> Bool {
        if fired { return true }
        await withCheckedContinuation { waiters.append($0) }
        return true
    }
}

/// InMemoryConversations with hooks on append: fail a role, or hold a role's append until a signal.
final class HookedConversations: ConversationRepository {
    let inner = InMemoryConversations()
    let failing: Set<String>
    /// Role → the signal that append waits for, and where it notes whether it came in time.
    let holds: [String: Signal]
    let overlapped = Overlaps()

    init(failing: Set<String> = [], holds: [String: Signal] = [:]) {
        self.failing = failing
        self.holds = holds
    }

    func append(_ message: DraftMessage, to id: String) async throws -> Int {
        if let hold = holds[message.role] { await overlapped.note(message.role, await hold.wait()) }
        if failing.contains(message.role) { throw CocoaError(.fileWriteOutOfSpace) }
        return try await inner.append(message, to: id)
    }

    func createConversation(owner: String, title: String?, tags: Set<String>) async throws -> String {
        await inner.createConversation(owner: owner, title: title, tags: tags)
    }
    func conversation(_ id: String) async throws -> ConversationInfo? { await inner.conversation(id) }
    func conversations(owner: String) async throws -> [ConversationInfo] { await inner.conversations(owner: owner) }
    func history(_ id: String, limit: Int?) async throws -> [StoredMessage] {
        await inner.history(id, limit: limit)
    }
    func addTags(_ tags: Set<String>, to id: String) async throws -> Set<String> {
        await inner.addTags(tags, to: id)
    }
    func setProvider(_ name: String, for id: String) async throws { await inner.setProvider(name, for: id) }
    func delete(_ id: String) async throws { await inner.delete(id) }
    func addFeedback(conversation id: String, user: String, up: Bool, comment: String?) async throws {}
}

/// Which held appends saw their signal in time.
actor Overlaps {
    private(set) var seen: [String: Bool] = [:]
    func note(_ role: String, _ inTime: Bool) { seen[role] = inTime }
}

/// InMemoryAudit that fires a signal when a record of an action starts, and can fail one action. A begun
/// record starts at once, as with the real log.
final class HookedAudit: AuditRecorder {
    let inner = InMemoryAudit()
    let signals: [String: Signal]
    let failing: Set<String>

    init(signals: [String: Signal] = [:], failing: Set<String> = []) {
        self.signals = signals
        self.failing = failing
    }

    func record(_ entry: AuditEntry) async throws {
        await signals[entry.action]?.fire()
        if failing.contains(entry.action) { throw ChatFailure(.internal, "audit unavailable") }
        try await inner.record(entry)
    }

    /// Starts the record at once, as the real log's writer thread does; `durable()` waits for it.
    func begin(_ entry: AuditEntry) -> PendingAuditRecord {
        let writing = Task { try await record(entry) }
        return PendingAuditRecord { try await writing.value }
    }

    func query(_ arguments: [String]) async throws -> [[String]] { await inner.query(arguments) }
}

@Suite struct SendOverlapTests {
    let alice = Principal(name: "alice", role: .staff, groups: [])

    func core(
        _ conversations: HookedConversations, _ audit: HookedAudit, _ gateway: RecordingGateway,
        historyTurns: Int = 20
    ) -> ChatCore {
        var configuration = ChatCore.Configuration()
        configuration.historyTurns = historyTurns
        return ChatCore(
            accounts: InMemoryAccounts(), passwords: TestPasswords(), conversations: conversations,
            policy: OnPremOnlyPolicy(), gateway: gateway.gateway, audit: audit, configuration: configuration)
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
        let conversations = HookedConversations(holds: ["user": decision, "assistant": call])
        let audit = HookedAudit(signals: ["model.decision": decision, "model.call": call])
        let gateway = RecordingGateway()
        let summary = try await send(core(conversations, audit, gateway), "overlap please")
        // Each append waited for its audit record to start: had they run one after the other, it would not
        // have come (the deadline would have passed).
        #expect(await conversations.overlapped.seen == ["user": true, "assistant": true])
        // And `send` returned only after both finished.
        #expect(
            await conversations.inner.history(summary.conversation, limit: nil).map(\.role) == ["user", "assistant"])
        #expect(await audit.inner.entries.map(\.action) == ["model.decision", "model.call"])
        #expect(gateway.calls.count == 1)
    }

    @Test func aFailingMessageCommitMeansNoProviderCall() async throws {
        let conversations = HookedConversations(failing: ["user"])
        let audit = HookedAudit()
        let gateway = RecordingGateway()
        await #expect(throws: ChatFailure.internal()) { _ = try await send(core(conversations, audit, gateway), "hi") }
        #expect(gateway.calls.isEmpty)
        #expect(await audit.inner.entries.map(\.action).contains("model.call") == false)
    }

    @Test func aFailingDecisionRecordMeansNoProviderCallAndTheMessageIsStillStored() async throws {
        let conversations = HookedConversations()
        let audit = HookedAudit(failing: ["model.decision"])
        let gateway = RecordingGateway()
        await #expect(throws: ChatFailure.internal()) { _ = try await send(core(conversations, audit, gateway), "hi") }
        #expect(gateway.calls.isEmpty)
        #expect(await conversations.inner.history("c1", limit: nil).map(\.body) == ["hi"])
    }

    @Test func aFailingReplyCommitOrCallRecordFailsTheMessageAfterBothWereTried() async throws {
        let replyFails = HookedConversations(failing: ["assistant"])
        let first = HookedAudit()
        await #expect(throws: ChatFailure.internal()) {
            _ = try await send(core(replyFails, first, RecordingGateway()), "one two")
        }
        #expect(await first.inner.entries.map(\.action) == ["model.decision", "model.call"])

        let callFails = HookedConversations()
        let second = HookedAudit(failing: ["model.call"])
        await #expect(throws: ChatFailure.internal()) {
            _ = try await send(core(callFails, second, RecordingGateway()), "one two")
        }
        #expect(await callFails.inner.history("c1", limit: nil).map(\.role) == ["user", "assistant"])
    }

    @Test func thePromptHoldsTheSameEarlierTurnsAndTheLogTheSameOrder() async throws {
        let conversations = HookedConversations()
        let audit = HookedAudit()
        let gateway = RecordingGateway()
        let core = core(conversations, audit, gateway, historyTurns: 3)
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
        let single = HookedConversations()
        let alone = RecordingGateway()
        let oneTurn = self.core(single, HookedAudit(), alone, historyTurns: 1)
        let lone = try await send(oneTurn, "first").conversation
        _ = try await send(oneTurn, "second", to: lone)
        #expect(alone.calls.last == [ChatTurn(role: .user, content: "second")])
        #expect(
            await audit.inner.entries.map(\.action)
                == Array(
                    repeating: ["model.decision", "model.call"], count: 3
                ).flatMap { $0 })
    }
}
