public import Audit
// The judge's tone rubric for `enclave canary report --judge NAME`: a sample of each arm's served replies is
// rated 1-5 for tone by a configured judge provider, and the arm gets the mean (0...1) with a bootstrap
// interval. The judge call is a model call like any other: it goes through ChatCore as the `canary-judge`
// user in a new conversation that carries the rated conversation's tags, so the policy gate decides and the
// audit log records it (a denied one is counted as skipped by policy).
//
// On top of the policy, one hard rule: the reply of a tagged conversation is never sent to an external
// judge, whatever the policy says; such conversations are counted as `skippedTagged` and their text is not
// even read. The sample is deterministic: up to `sample` of the arm's served conversations, evenly spaced
// over the report's period (so a week's report rates the whole week, not its last hour). Only scores and
// counts leave this file; reply text goes to the judge and nowhere else (no log, no audit text).
public import ChatCore
import Foundation
import Policy
public import Routing
public import Storage

/// A judge's tone score for one arm.
public struct ToneScore: Sendable, Codable, Equatable {
    public var judge: String
    /// Replies the judge rated.
    public var judged: Int
    /// Mean rating mapped to 0...1 (1 → 0, 5 → 1), and its 95% bootstrap interval; nil when none was rated.
    public var mean: Double?
    public var interval: Interval?
    /// Tagged conversations not sent because the judge is external.
    public var skippedTagged: Int
    /// Judge calls the policy denied.
    public var skippedByPolicy: Int
    /// Judge calls that failed or gave no rating.
    public var failed: Int
}

/// Rates the tone of sampled replies with a judge provider.
public struct ToneJudge: Sendable {
    let runner: EvalRunner
    let store: any ChatStore
    public let judge: String
    public let sample: Int

    /// - Parameters:
    ///   - gateway: must know `judge` (its residency decides the hard rule on tagged conversations).
    ///   - sample: replies rated per arm at most.
    public init(
        store: any ChatStore, policy: PolicyDirectoryGate, gateway: ProviderGateway, audit: any AuditTrail,
        judge: String,
        sample: Int = 20,
        user: Principal = Principal(name: "canary-judge", role: .staff, groups: [])
    ) {
        self.store = store
        self.judge = judge
        self.sample = max(0, sample)
        runner = EvalRunner(
            store: store, policy: policy, gateway: gateway, audit: audit,
            options: EvalOptions(providers: [judge], concurrency: 1, judge: judge, user: user, maxTokens: 8))
    }

    /// The rubric the judge applies.
    public static func prompt(reply: String) -> String {
        """
        You rate the tone of an assistant's reply to a user. Good tone is courteous, professional, clear and \
        helpful; poor tone is curt, condescending, preachy, evasive or needlessly apologetic.
        Reply to rate: \(reply)
        Rate the tone from 1 (poor) to 5 (excellent). Reply with the digit only.
        """
    }

    /// `report` with each arm's `tone` filled from a judged sample of the served calls in `records`.
    public func rate(_ report: CanaryReport, records: [AuditRecord], since: UTCMillis? = nil) async throws
        -> CanaryReport
    {
        let external = runner.gateway.router.info(judge)?.residency == .external
        var rated = report
        for arm in ["control", "canary"] {
            let served = Self.served(records, arm: arm, since: since)
            var score = ToneScore(
                judge: judge, judged: 0, mean: nil, interval: nil, skippedTagged: 0, skippedByPolicy: 0, failed: 0)
            var ratings: [Double] = []
            for (conversation, provider) in Self.spread(served, count: sample) {
                guard let id = ConversationID(rawValue: conversation), let info = try await store.conversation(id)
                else { continue }
                if external && !info.tags.isEmpty {
                    score.skippedTagged += 1
                    continue
                }
                let history = try await store.history(id, limit: nil)
                guard let reply = history.last(where: { $0.role == "assistant" && $0.provider == provider }) else {
                    continue
                }
                let verdict = await runner.send(
                    Self.prompt(reply: reply.body), history: [], tags: Array(info.tags), to: judge)
                switch verdict.outcome {
                case .reply(let text):
                    if let value = Scoring.judgeScore(text) { ratings.append(value) } else { score.failed += 1 }
                case .failure(let code) where code == ChatFailure.Code.policyBlocked.rawValue:
                    score.skippedByPolicy += 1
                case .failure:
                    score.failed += 1
                }
            }
            score.judged = ratings.count
            if !ratings.isEmpty {
                score.mean = ratings.reduce(0, +) / Double(ratings.count)
                score.interval = Statistics.bootstrap(ratings)
            }
            if arm == "control" { rated.control.tone = score } else { rated.canary.tone = score }
        }
        return rated
    }

    /// The arm's served conversations (id and the provider that served the last call), in log order.
    static func served(_ records: [AuditRecord], arm: String, since: UTCMillis?) -> [(String, String)] {
        var order: [String] = []
        var provider: [String: String] = [:]
        for record in records {
            let event = record.event
            guard event.action == "model.call", event.outcome == "ok", let call = event.call,
                call.canaryArm == arm, event.subject.hasPrefix("conversation:")
            else { continue }
            if let since, event.time < since { continue }
            let id = String(event.subject.dropFirst("conversation:".count))
            if provider.updateValue(call.provider, forKey: id) == nil { order.append(id) }
        }
        return order.map { ($0, provider[$0]!) }
    }

    /// Up to `count` elements of `all`, evenly spaced, first included.
    static func spread<T>(_ all: [T], count: Int) -> [T] {
        guard all.count > count else { return all }
        guard count > 0 else { return [] }
        return (0..<count).map { all[$0 * all.count / count] }
    }
}
