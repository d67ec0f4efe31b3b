// Tone in the canary report. The refusal flag is set at reply time and counted from the audit log: scripted
// providers refuse in a proportion the test chooses, the rate and its Wilson interval follow from the
// recorder's own counts (the interval by the formula of Wilson 1927, written out here), and the log holds
// no reply text. Fixed counts give a verdict the refusal rule decides (constants from Python). The judge's
// tone rubric: an external judge never receives a tagged conversation's reply, even under a policy that
// would let it; the untagged ones are rated, each judge call audited.
import Audit
import ChatCore
import EnclaveTestSupport
import Evaluation
import Foundation
import Policy
import Routing
import Storage
import Synchronization
import Testing

@Suite struct CanaryToneTests {
    static let refusal = "I'm sorry, but I can't help with that request."
    static let help = "Sure. Take the stairs to the second floor."

    /// Wilson's 95% score interval, from its definition (z = 1.959964).
    func wilson(_ k: Int, _ n: Int) -> (Double, Double) {
        let z = 1.959964
        let p = Double(k) / Double(n)
        let centre = p + z * z / (2 * Double(n))
        let half = z * (p * (1 - p) / Double(n) + z * z / (4 * Double(n * n))).squareRoot()
        let scale = 1 + z * z / Double(n)
        return ((centre - half) / scale, (centre + half) / scale)
    }

    @Test func refusalsAreFlaggedAtReplyTimeAndCountedPerArmWithoutText() async throws {
        // The candidate refuses every other request it gets (its 1st, 3rd, ...); control never refuses.
        let count = Mutex(0)
        let stable = try await ScriptedProvider.start("stable", .vpc) { _ in answer(Self.help) }
        let candidate = try await ScriptedProvider.start("cand", .vpc) { _ in
            let n = count.withLock { value in
                value += 1
                return value
            }
            return answer(n % 2 == 1 ? Self.refusal : Self.help)
        }
        let canary = CanaryConfiguration(provider: "cand", percent: 50, key: Array("tone-test-key".utf8))
        let fixture = try await EvalFixture([stable, candidate], canary: canary)
        let core = fixture.chatCore(gateway: fixture.gateway)
        let alice = Principal(name: "alice", role: .staff, groups: [])
        for _ in 0..<40 {
            _ = try await core.send(
                "where is the lift?", conversation: nil, requestedModel: nil, as: alice, origin: "192.0.2.1",
                emit: { _ in })
        }
        let records = try await fixture.records()
        let logText = try String(contentsOfFile: fixture.log.directory + "/" + AuditLog.logFileName, encoding: .utf8)
        await fixture.close()

        let served = candidate.recorder.completionRequests.count
        let controlServed = stable.recorder.completionRequests.count
        #expect(served > 0 && controlServed > 0 && served + controlServed == 40)
        let refused = (served + 1) / 2
        let report = CanaryReport(records: records)
        #expect(report.canary.flaggedReplies == served && report.canary.refusals == refused)
        #expect(report.control.flaggedReplies == controlServed && report.control.refusals == 0)
        let (low, high) = wilson(refused, served)
        #expect(abs(report.canary.refusalInterval!.low - low) < 1e-5)
        #expect(abs(report.canary.refusalInterval!.high - high) < 1e-5)
        #expect(abs(report.canary.refusalRate! - Double(refused) / Double(served)) < 1e-12)
        // Reply length in characters: control always sends the 42-character help.
        #expect(report.control.replyCharsP50 == Double(Self.help.count))
        #expect(report.control.replyCharsP95 == Double(Self.help.count))
        #expect(Self.help.count == 42)
        // The flags and counts are in the log; the replies' words are not.
        #expect(!logText.contains("sorry") && !logText.contains("stairs"))
        #expect(logText.contains("\"refusal\":1") && logText.contains("\"reply_chars\":42"))
    }

    @Test func theRefusalRuleDecidesTheVerdict() {
        let cases = CanaryTests()
        // Control: 200 served, 10 refusals: Wilson (0.027383, 0.089578).
        let control = cases.records(
            arm: "control", calls: 200, failures: 0, ups: 0, ratings: 0, refusals: 10, from: 0)
        let base = CanaryReport(records: control)
        #expect(abs(base.control.refusalInterval!.low - 0.027383) < 1e-5)
        #expect(abs(base.control.refusalInterval!.high - 0.089578) < 1e-5)
        // Canary 12 of 40: Wilson low 0.180748 > 0.089578: roll back, whatever else.
        let refusing = cases.records(
            arm: "canary", calls: 40, failures: 0, ups: 0, ratings: 0, refusals: 12, from: 1000)
        let rolled = CanaryReport(records: control + refusing)
        #expect(rolled.verdict == "roll-back" && rolled.reason.contains("refusal"), "\(rolled.reason)")
        #expect(abs(rolled.canary.refusalInterval!.low - 0.180748) < 1e-5)
        // Reply lengths 100...139: p50 119.5, p95 137.05 (numpy.percentile, linear).
        #expect(abs(rolled.canary.replyCharsP50! - 119.5) < 1e-9 && abs(rolled.canary.replyCharsP95! - 137.05) < 1e-9)
        // Canary 4 of 40 (0.1 > 0.089578, Wilson low 0.039580 inside control's): not promoted, kept.
        let some = cases.records(arm: "canary", calls: 40, failures: 0, ups: 0, ratings: 0, refusals: 4, from: 1000)
        let kept = CanaryReport(records: control + some)
        #expect(kept.verdict == "keep" && kept.reason.contains("refusal"), "\(kept.reason)")
        // Canary 3 of 40 (0.075 ≤ 0.089578): promoted.
        let few = cases.records(arm: "canary", calls: 40, failures: 0, ups: 0, ratings: 0, refusals: 3, from: 1000)
        #expect(CanaryReport(records: control + few).verdict == "promote")
    }

    @Test func refusalDetectionReadsTheOpeningOnly() {
        let detector = RefusalDetector()
        #expect(detector.isRefusal("I\u{2019}m sorry, but I CAN\u{2019}T   help with that."))
        #expect(detector.isRefusal("Unfortunately I am unable to share records."))
        #expect(!detector.isRefusal("The ward is on floor 2."))
        #expect(!detector.isRefusal(String(repeating: "Here is the plan. ", count: 20) + "I cannot help more."))
    }

    /// The shipped policies, except that card data may go anywhere: the policy alone would let an
    /// external judge see a `pci` conversation, so only the hard rule keeps it away.
    func permissivePolicies() throws -> String {
        let directory = NSTemporaryDirectory() + "enclave-tone-policies-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["00-tags.yaml", "10-defaults.yaml", "20-rules.yaml"] {
            var text = try String(contentsOfFile: repositoryRoot + "/policies/" + name, encoding: .utf8)
            if name == "20-rules.yaml" {
                let strict = "tags: {any: [pci]}\n    allow:\n      residency: [on-prem]"
                #expect(text.contains(strict))
                text = text.replacingOccurrences(
                    of: strict, with: "tags: {any: [pci]}\n    allow:\n      residency: [on-prem, vpc, external]")
            }
            try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test func anExternalJudgeNeverReceivesATaggedConversationsReply() async throws {
        let secret = "Card reply KEEP-INSIDE-7731."
        let plain = "Plain reply for the lobby."
        let rule: @Sendable (String) -> RecorderBehaviour? = { body in answer(body.contains("4111") ? secret : plain) }
        let stable = try await ScriptedProvider.start("stable", .onPrem, rule: rule)
        let candidate = try await ScriptedProvider.start("cand", .onPrem, rule: rule)
        let judge = try await ScriptedProvider.start("judge", .external) { _ in answer("4") }
        // Tagged conversations take part in this experiment (by default only untagged ones do).
        let canary = CanaryConfiguration(
            provider: "cand", percent: 50, key: Array("judge-test-key".utf8),
            eligibility: CanaryEligibility(requireNoTags: false))
        let policies = try permissivePolicies()
        defer { try? FileManager.default.removeItem(atPath: policies) }
        let fixture = try await EvalFixture([stable, candidate, judge], canary: canary, policies: policies)
        let core = fixture.chatCore(gateway: fixture.gateway)
        let alice = Principal(name: "alice", role: .staff, groups: [])
        for index in 0..<16 {
            let text = index % 2 == 0 ? "my card is 4111 1111 1111 1111, is it blocked?" : "where is the lobby?"
            _ = try await core.send(
                text, conversation: nil, requestedModel: nil, as: alice, origin: "192.0.2.1", emit: { _ in })
        }
        let before = try await fixture.records()
        let report = CanaryReport(records: before)
        let tone = ToneJudge(
            store: fixture.store, policy: fixture.policy, gateway: fixture.gateway, audit: fixture.log, judge: "judge",
            sample: 20)
        let rated = try await tone.rate(report, records: before)
        let after = try await fixture.records()
        await fixture.close()

        let asked = judge.recorder.completionRequests.map(\.body)
        #expect(asked.count == 8)
        #expect(asked.allSatisfy { $0.contains(plain) && !$0.contains("KEEP-INSIDE") && !$0.contains("4111") })
        let scores = [rated.control.tone, rated.canary.tone].compactMap { $0 }
        #expect(scores.count == 2)
        #expect(scores.map(\.skippedTagged).reduce(0, +) == 8)
        #expect(scores.map(\.judged).reduce(0, +) == 8)
        // The judge's "4" is (4 - 1) / 4 on the 0...1 scale, for every rated reply.
        #expect(scores.filter { $0.judged > 0 }.allSatisfy { $0.mean == 0.75 })
        // Every judge call is audited as the judge user's model call, and none is a canary arm's.
        let judged = after.dropFirst(before.count).filter {
            $0.event.action == "model.call" && $0.event.call?.provider == "judge"
        }
        #expect(judged.count == 8 && judged.allSatisfy { $0.event.actor == "canary-judge" })
        #expect(CanaryReport(records: after).canary.calls == report.canary.calls)
    }
}
