// ChatCore through the real router and gateway (ProviderGateway) with scripted in-process
// providers: fallback before the first token stays inside the allowed set and never widens
// residency; a failure after text reached the user ends the call with a clear final line; every
// attempt has a decision record before it and a call record after it (arm, cost, outcome); a failed
// provider is skipped by the next message (circuit breaker) and `/models` shows it down; no audit
// means no call; canary eligibility sees the user's groups.
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

/// A provider that answers from a script: each call takes the next behaviour (the last one repeats).
final class ScriptedProvider: ChatProvider {
    enum Behaviour: Sendable {
        case reply([String])
        case failBeforeText(ProviderFailure)
        case failAfterText(String, ProviderFailure)
    }

    let info: ProviderInfo
    private let script: Mutex<[Behaviour]>
    let calls = Mutex(0)

    init(_ name: String, _ residency: Residency, price: Double = 0, script: [Behaviour] = [.reply(["ok"])]) {
        info = ProviderInfo(
            name: name, residency: residency, model: name + "-model",
            pricing: Pricing(inputPerMillion: price, outputPerMillion: price * 2))
        self.script = Mutex(script)
    }

    var callCount: Int { calls.withLock { $0 } }

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        calls.withLock { $0 += 1 }
        let behaviour = script.withLock { script in script.count > 1 ? script.removeFirst() : script[0] }
        return AsyncThrowingStream { continuation in
            switch behaviour {
            case .reply(let pieces):
                for piece in pieces { continuation.yield(.text(piece)) }
                continuation.yield(.usage(tokensIn: 1000, tokensOut: pieces.count))
                continuation.finish()
            case .failBeforeText(let kind):
                continuation.finish(throwing: RoutingError.provider(kind))
            case .failAfterText(let piece, let kind):
                continuation.yield(.text(piece))
                continuation.finish(throwing: RoutingError.provider(kind))
            }
        }
    }

    func health() async -> Bool { true }
}

struct RoutedFixture {
    let backends: TestBackends
    var audit: HookedAudit { backends.audit }
    let gateway: ProviderGateway
    let core: ChatCore
    let alice = Principal(name: "alice", role: .staff, groups: [])

    init(
        _ providers: [ScriptedProvider], allowed: [String], defaultProvider: String,
        canary: CanaryConfiguration? = nil
    ) async throws {
        backends = try await TestBackends()
        // A breaker opened by a test stays open for the whole test, however slowly a loaded machine runs it.
        gateway = ProviderGateway(
            providers: providers, defaultProvider: defaultProvider, systemPrompt: "Be brief.",
            promptVersion: "assistant.v2", canary: canary,
            health: ProviderHealth(settings: .init(base: .seconds(3600), maximum: .seconds(3600))))
        core = ChatCore(
            store: backends.store, passwords: TestPasswords(),
            policy: try await backends.policy(TestPolicies.allowing(allowed)),
            gateway: gateway, audit: backends.audit, configuration: ChatCore.Configuration())
    }

    /// Sends a message; returns the summary or the failure, and the text and notices emitted.
    func send(_ text: String, conversation: String? = nil, model: String? = nil, as user: Principal? = nil) async
        -> (result: Result<SendSummary, ChatFailure>, text: String, notices: [String])
    {
        let output = Mutex<(String, [String])>(("", []))
        do {
            let summary = try await core.send(
                text, conversation: conversation, requestedModel: model, as: user ?? alice, origin: "test",
                emit: { event in
                    output.withLock {
                        switch event {
                        case .text(let piece): $0.0 += piece
                        case .notice(let notice): $0.1.append(notice)
                        case .row: break
                        }
                    }
                })
            return (.success(summary), output.withLock { $0.0 }, output.withLock { $0.1 })
        } catch {
            return (.failure(error), output.withLock { $0.0 }, output.withLock { $0.1 })
        }
    }

    /// (action, provider, outcome, error code) of every model record, in order.
    func modelRecords() throws -> [(String, String, String, String?)] {
        try backends.events().filter { $0.action.hasPrefix("model.") }.map {
            ($0.action, $0.call?.provider ?? "", $0.outcome, $0.call?.errorCode)
        }
    }
}

@Suite struct ChatCoreRoutingTests {
    @Test func aFailureBeforeTheFirstTokenFallsBackInsideTheAllowedSetAndEveryAttemptIsRecorded() async throws {
        let vpc = ScriptedProvider("vpc", .vpc, script: [.failBeforeText(.down), .reply(["fine"])])
        let local = ScriptedProvider("local", .onPrem, script: [.reply(["from ", "local"])])
        let external = ScriptedProvider("external", .external, price: 1)
        let fixture = try await RoutedFixture(
            [local, vpc, external], allowed: ["vpc", "local"], defaultProvider: "vpc")

        let (result, text, notices) = await fixture.send("hello")
        let summary = try result.get()
        #expect(summary.provider == "local")
        #expect(text == "from local")
        #expect(notices.count == 2 && notices[1].contains("fallback=1"))
        #expect(external.callCount == 0)
        let records = try fixture.modelRecords()
        #expect(records.map(\.0) == ["model.decision", "model.call", "model.decision", "model.call"])
        #expect(records.map(\.1) == ["vpc", "vpc", "local", "local"])
        #expect(records[1].2 == "failed" && records[1].3 == "provider-down")
        #expect(records[3].2 == "ok" && records[3].3 == nil)
        let call = try #require(try fixture.backends.events().last?.call)
        #expect(call.promptVersion == "assistant.v2")
        #expect(call.canaryArm == "none")
        #expect(call.tokensIn == 1000 && call.tokensOut == 2)
        #expect(call.costMicros == 0)
        // The routing facts reach the record: why the router chose the plan (its default), no estimate, nothing dropped.
        #expect(call.route == "default" && call.tokensEstimated == false && call.droppedTurns == 0)
        // The conversation now sticks to the provider that answered.
        #expect(try await fixture.backends.conversation(summary.conversation)?.provider == "local")
    }

    @Test func fallbackNeverWidensResidencyAndAnExhaustedPlanSaysProviderUnavailable() async throws {
        let local = ScriptedProvider("local", .onPrem, script: [.failBeforeText(.engine)])
        let external = ScriptedProvider("external", .external)
        let fixture = try await RoutedFixture(
            [local, external], allowed: ["local", "external"], defaultProvider: "local")
        let (result, _, _) = await fixture.send("hello")
        #expect(throws: ChatFailure.self) { try result.get() }
        if case .failure(let failure) = result { #expect(failure.code == .providerUnavailable) }
        #expect(external.callCount == 0)
        #expect(try fixture.modelRecords().map(\.2) == ["allowed", "failed"])
    }

    @Test func aFailureAfterTextEndsTheCallWithAClearLineAndKeepsThePartialReply() async throws {
        let vpc = ScriptedProvider("vpc", .vpc, script: [.failAfterText("half an ans", .streamCut)])
        let local = ScriptedProvider("local", .onPrem)
        let fixture = try await RoutedFixture([vpc, local], allowed: ["vpc", "local"], defaultProvider: "vpc")
        let (result, text, _) = await fixture.send("hello")
        guard case .failure(let failure) = result else {
            Issue.record("a cut stream was reported as success")
            return
        }
        #expect(failure.code == .providerUnavailable)
        #expect(failure.text.contains("incomplete"))
        #expect(text == "half an ans")
        #expect(local.callCount == 0)
        let records = try fixture.modelRecords()
        #expect(records.last?.2 == "failed" && records.last?.3 == "provider-stream-cut")
        let history = try await fixture.backends.latestHistory(of: "alice")
        #expect(history.map(\.role) == ["user", "assistant"])
    }

    @Test func aProviderThatJustFailedIsSkippedAndShownDown() async throws {
        let vpc = ScriptedProvider("vpc", .vpc, script: [.failBeforeText(.timeout), .reply(["back"])])
        let local = ScriptedProvider("local", .onPrem)
        let fixture = try await RoutedFixture([vpc, local], allowed: ["vpc", "local"], defaultProvider: "vpc")
        _ = try await fixture.send("one").result.get()
        #expect(vpc.callCount == 1)
        let second = try await fixture.send("two").result.get()
        #expect(second.provider == "local")
        #expect(vpc.callCount == 1, "the open breaker did not keep the router off the failed provider")
        let models = try await fixture.core.models(conversation: nil, selected: nil, as: fixture.alice, origin: "t")
        #expect(models.output.contains(.row(["vpc", "vpc", "-", "vpc-model", "allowed", "down", "ctx=4096"])))
        #expect(models.output.contains(.row(["local", "on-prem", "-", "local-model", "allowed", "-", "ctx=4096"])))
    }

    @Test func noAuditMeansNoCall() async throws {
        let vpc = ScriptedProvider("vpc", .vpc)
        let fixture = try await RoutedFixture([vpc], allowed: ["vpc"], defaultProvider: "vpc")
        fixture.audit.setFailing(true)
        let (result, _, _) = await fixture.send("hello")
        if case .failure(let failure) = result { #expect(failure.code == .internal) } else { Issue.record("sent") }
        #expect(vpc.callCount == 0)
    }

    @Test func aRefusedChoiceIsPolicyBlockedNamingTheRuleAndNothingIsSent() async throws {
        let vpc = ScriptedProvider("vpc", .vpc)
        let external = ScriptedProvider("external", .external)
        let fixture = try await RoutedFixture([vpc, external], allowed: ["vpc"], defaultProvider: "vpc")
        let (result, _, _) = await fixture.send("hello", model: "external")
        guard case .failure(let failure) = result else {
            Issue.record("an external choice was served")
            return
        }
        #expect(failure.code == .policyBlocked)
        #expect(failure.text.hasPrefix("rule=allow-list tags=none: external is not allowed"))
        #expect(external.callCount == 0 && vpc.callCount == 0)
        #expect(try fixture.modelRecords().map(\.2) == ["denied"])
    }

    @Test func canaryEligibilitySeesTheUsersGroups() async throws {
        let vpc = ScriptedProvider("vpc", .vpc)
        let candidate = ScriptedProvider("candidate", .vpc)
        let canary = CanaryConfiguration(
            provider: "candidate", percent: 100, key: Array("canary-key".utf8),
            eligibility: CanaryEligibility(requireNoTags: true, groups: ["research"]))
        let fixture = try await RoutedFixture(
            [vpc, candidate], allowed: ["vpc", "candidate"], defaultProvider: "vpc", canary: canary)
        let researcher = Principal(name: "rita", role: .staff, groups: ["research"])
        let first = try await fixture.send("hello", as: researcher).result.get()
        #expect(first.provider == "candidate")
        #expect(try fixture.backends.events().last?.call?.canaryArm == "canary")
        let other = try await fixture.send("hello").result.get()
        #expect(other.provider == "vpc")
        #expect(try fixture.backends.events().last?.call?.canaryArm == "none")
        // A tag makes the researcher's conversation ineligible: it leaves the canary.
        let tagged = try await fixture.send("a secret", conversation: first.conversation, as: researcher).result.get()
        #expect(tagged.provider == "vpc")
    }
}
