// Canary monitoring over real parts: live traffic through ChatCore with a canary provider that fails every
// call, behind the automatic stop; then `canary report` over the audit log it left. The numbers follow from
// the script: the stop comes after exactly `window` failed canary calls, every canary message falls back to
// control, and every conversation is rated up.
import Audit
import ChatCore
import EnclaveConfiguration
import EnclaveTestSupport
import Evaluation
import Foundation
import Policy
import Routing
import Storage
import Testing

@Suite struct CanaryTests {
    @Test func aFailingCanaryIsStoppedOnItsOwnAuditedAndReportedForRollBack() async throws {
        let stable = try await ScriptedProvider.start("stable", .vpc) { _ in answer("fine") }
        let candidate = try await ScriptedProvider.start("cand", .vpc) { _ in .fail }
        let canary = CanaryConfiguration(provider: "cand", percent: 50, key: Array("canary-test-key".utf8))
        let fixture = try await EvalFixture([stable, candidate], canary: canary)
        let bounds = CanaryStopBounds(errorRate: 0.5, p95Ms: 600_000, window: 5, minimumCalls: 5)
        let watch = CanaryWatch(provider: "cand", bounds: bounds)
        let guarded = ProviderGateway(
            registry: fixture.gateway.registry, prompts: fixture.gateway.prompts, health: fixture.gateway.health,
            canaryWatch: watch)
        let core = fixture.chatCore(gateway: guarded)
        let alice = Principal(name: "alice", role: .staff, groups: [])
        for _ in 0..<60 {
            let summary = try await core.send(
                "hello there", conversation: nil, requestedModel: nil, as: alice, origin: "192.0.2.1", emit: { _ in })
            #expect(summary.provider == "stable")
            _ = try await core.feedback(
                up: true, comment: nil, conversation: summary.conversation, as: alice, origin: "192.0.2.1")
        }
        let records = try await fixture.records()
        await fixture.close()

        // Exactly five canary calls reached the candidate: the fifth failure crossed the bound.
        #expect(candidate.recorder.completionRequests.count == 5)
        #expect(watch.isStopped)
        let stops = records.filter { $0.event.action == CanaryStop.action }
        #expect(stops.count == 1)
        #expect(stops.first?.event.outcome == "error-rate" && stops.first?.event.subject == "provider:cand")
        let stopSeq = try #require(stops.first?.seq)
        #expect(
            !records.contains {
                $0.seq > stopSeq && $0.event.action == "model.decision" && $0.event.call?.provider == "cand"
            })

        // The report: canary 5 conversations, 10 calls (5 failed, 5 fallbacks), error rate 0.5 with Wilson
        // (0.236593, 0.763407); control 55 conversations, 0 errors of 55, Wilson high 3.8415/58.8415 = 0.065284.
        let report = CanaryReport(records: records)
        #expect(report.canary.conversations == 5 && report.canary.calls == 10 && report.canary.errors == 5)
        #expect(abs(report.canary.errorInterval.low - 0.236593) < 1e-5)
        #expect(report.canary.fallbacks == 5 && report.canary.fallbackRate == 1)
        #expect(report.control.conversations == 55 && report.control.errors == 0)
        #expect(abs(report.control.errorInterval.high - 0.065284) < 1e-5)
        // Every rating is tied to its conversation's last call, so to that call's arm.
        #expect(report.canary.ratings == 5 && report.canary.thumbsUp == 5)
        #expect(report.control.ratings == 55 && report.control.thumbsUp == 55)
        #expect(report.verdict == "roll-back")
        #expect(report.stops.count == 1)
        #expect(report.control.promptVersions == ["assistant.v1": 55])
    }

    /// Audit records of `count` calls on `arm`, `failures` of them failed, each in its own conversation,
    /// with a rating (`up` for the first `ups`). Served calls carry a refusal flag (set for the `refusals`
    /// served calls after the failures) and a reply length of 100 + their index characters.
    func records(
        arm: String, calls count: Int, failures: Int, ups: Int, ratings: Int, refusals: Int = 0, from seq: UInt64
    ) -> [AuditRecord] {
        var records: [AuditRecord] = []
        for index in 0..<count {
            let subject = "conversation:\(arm)-\(index)"
            let failed = index < failures
            let call = ModelCallFields(
                modelID: "m", promptVersion: "p.v1", provider: arm, residency: "vpc", canaryArm: arm,
                decision: "allowed",
                rule: "r", tags: [], detectorCounts: [:], tokensIn: 10, tokensOut: 20, ttftMs: 100, totalMs: 1000,
                costMicros: 5, errorCode: failed ? "provider-http-status" : nil,
                replyChars: failed ? nil : 100 + index, refusal: failed ? nil : index < failures + refusals)
            records.append(
                AuditRecord(
                    seq: seq + UInt64(records.count),
                    event: AuditEvent(
                        actor: "u", role: "staff", action: "model.call", subject: subject,
                        outcome: failed ? "failed" : "ok", call: call), prev: "", mac: ""))
            if index < ratings {
                records.append(
                    AuditRecord(
                        seq: seq + UInt64(records.count),
                        event: AuditEvent(
                            actor: "u", role: "staff", action: CanaryReport.feedbackAction,
                            subject: subject, outcome: index < ups ? "up" : "down"), prev: "", mac: ""))
            }
        }
        return records
    }

    @Test func aHealthyCanaryWithEnoughConversationsIsPromotedAndAYoungOneKept() {
        // Control: 200 calls, 4 errors (Wilson high 0.0503), 80 of 100 ratings up (Wilson low 0.711171).
        // Canary: 40 calls, 1 error (rate 0.025 ≤ 0.0503), 16 of 20 up (0.8 ≥ 0.711): promote.
        let control = records(arm: "control", calls: 200, failures: 4, ups: 80, ratings: 100, from: 0)
        let healthy = records(arm: "canary", calls: 40, failures: 1, ups: 16, ratings: 20, from: 1000)
        let report = CanaryReport(records: control + healthy)
        #expect(report.verdict == "promote", "\(report.reason)")
        #expect(abs(report.control.thumbsUpInterval!.low - 0.711171) < 1e-5)
        // The same canary with only 10 conversations: not enough evidence, keep.
        let young = records(arm: "canary", calls: 10, failures: 0, ups: 8, ratings: 10, from: 1000)
        #expect(CanaryReport(records: control + young).verdict == "keep")
        // A canary whose raters dislike it: 2 of 20 up, Wilson high 0.301 < 0.711: roll back.
        let disliked = records(arm: "canary", calls: 40, failures: 0, ups: 2, ratings: 20, from: 1000)
        #expect(CanaryReport(records: control + disliked).verdict == "roll-back")
    }
}

@Suite struct CanaryStopConfigurationTests {
    static let base = """
        providers:
          - {name: a, kind: openai, residency: vpc, base_url: "http://127.0.0.1:9/v1", model: m}
          - {name: b, kind: openai, residency: vpc, base_url: "http://127.0.0.1:9/v1", model: m}
        routing:
          default: a
          prompts: {default: assistant.v1}
          canary:
            provider: b
            percent: 0

        """

    @Test func stopWhenIsReadWithItsBounds() throws {
        let text = Self.base + "    stop_when: {error_rate: 0.1, p95_ms: 2000, window: 20, min_calls: 8}\n"
        let configuration = try RoutingConfiguration.parse(text, file: "c.yaml")
        #expect(
            configuration.canary?.stopWhen == CanaryStopBounds(errorRate: 0.1, p95Ms: 2000, window: 20, minimumCalls: 8)
        )
        #expect(try RoutingConfiguration.parse(Self.base, file: "c.yaml").canary?.stopWhen == nil)
    }

    @Test func aBadStopWhenIsAnErrorAtItsLine() {
        let text = Self.base + "    stop_when: {error_rate: 2}\n"
        let error = #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(text, file: "c.yaml") }
        #expect("\(error!)".contains("c.yaml:10"), "\(error!)")
        let unknown = Self.base + "    stop_when: {errors: 2}\n"
        #expect(throws: ConfigurationError.self) { try RoutingConfiguration.parse(unknown, file: "c.yaml") }
    }
}
