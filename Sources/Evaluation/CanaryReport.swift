// `enclave canary report`: how the canary arm does against control, from the audit log alone (the call
// records every message leaves, and the `feedback.rate` records of `/feedback`). No message text is read.
//
// Linking a rating to a call: a rating rates the last `model.call` of its conversation written before it.
// A fallback is a served call that follows a failed one of the same conversation. Per arm: conversations,
// calls, error and fallback rates, thumbs-up rate (each with a Wilson interval), TTFT and total latency
// p50/p95, tokens per reply, cost, prompt versions and models; and tone: the refusal rate with its Wilson
// interval (over served replies that carry the flag the gateway set when the reply finished) and the
// reply length p50/p95 in characters (the call record's count), plus a judge's tone score when
// `ToneJudge` rated a sample.
//
// The verdict, first match wins (the rule is printed with it):
//   roll back — the canary's error-rate interval lies wholly above control's, or its refusal-rate interval
//               wholly above control's, or its thumbs-up interval wholly below control's, or its p95 latency
//               exceeds control's by more than `latencyFactor`;
//   promote   — the canary has at least `minimumConversations`, its error rate and its refusal rate are no
//               higher than the top of control's intervals, its thumbs-up rate no lower than the bottom of
//               control's (when both arms have ratings), and its p95 latency within `latencyFactor` of
//               control's;
//   keep      — otherwise (not enough evidence either way).
public import Audit
import Foundation
import Routing

/// One arm of the experiment.
public struct ArmSummary: Sendable, Codable, Equatable {
    public var arm: String
    public var conversations: Int
    public var calls: Int
    public var errors: Int
    public var errorRate: Double
    public var errorInterval: Interval
    public var fallbacks: Int
    public var fallbackRate: Double
    public var ratings: Int
    public var thumbsUp: Int
    public var thumbsUpRate: Double?
    public var thumbsUpInterval: Interval?
    public var ttftP50: Double?
    public var ttftP95: Double?
    public var totalP50: Double?
    public var totalP95: Double?
    public var tokensPerReply: Double?
    /// Served replies that carry a refusal flag, and how many of them were refusals.
    public var flaggedReplies: Int
    public var refusals: Int
    public var refusalRate: Double?
    public var refusalInterval: Interval?
    /// Reply length in characters, over served replies that record it.
    public var replyCharsP50: Double?
    public var replyCharsP95: Double?
    /// A judge's tone rubric on a sample of this arm's replies (``ToneJudge``); nil when none was asked.
    public var tone: ToneScore?
    public var costMicros: Int
    public var promptVersions: [String: Int]
    public var models: [String: Int]
}

/// The canary report.
public struct CanaryReport: Sendable, Codable, Equatable {
    /// The verdict's bounds.
    public struct Rule: Sendable, Codable, Equatable {
        public var minimumConversations: Int
        public var latencyFactor: Double

        public init(minimumConversations: Int = 30, latencyFactor: Double = 1.5) {
            self.minimumConversations = minimumConversations
            self.latencyFactor = latencyFactor
        }
    }

    public var control: ArmSummary
    public var canary: ArmSummary
    /// `promote`, `keep` or `roll-back`.
    public var verdict: String
    /// The clause of the rule that produced the verdict.
    public var reason: String
    /// Automatic stops of the canary found in the log (`canary.stop` records), oldest first.
    public var stops: [String]

    public static let feedbackAction = "feedback.rate"

    /// Builds the report from audit records (oldest first), keeping calls at or after `since`.
    public init(records: [AuditRecord], since: UTCMillis? = nil, rule: Rule = Rule()) {
        var arms: [String: [ModelCallFields]] = ["control": [], "canary": []]
        var conversationsOf: [String: Set<String>] = ["control": [], "canary": []]
        var fallbacks: [String: Int] = [:]
        var lastCall: [String: (arm: String, failed: Bool)] = [:]
        var ratings: [String: (up: Int, total: Int)] = [:]
        var stops: [String] = []
        for record in records {
            let event = record.event
            if event.action == CanaryStop.action {
                stops.append("\(event.subject) \(event.outcome) \(event.detail ?? "")")
                continue
            }
            if let since, event.time < since { continue }
            if event.action == Self.feedbackAction, let linked = lastCall[event.subject] {
                var tally = ratings[linked.arm] ?? (0, 0)
                tally.total += 1
                if event.outcome == "up" { tally.up += 1 }
                ratings[linked.arm] = tally
                continue
            }
            guard event.action == "model.call", let call = event.call, let arm = call.canaryArm,
                arms[arm] != nil
            else { continue }
            let failed = event.outcome != "ok"
            if !failed, lastCall[event.subject]?.failed == true { fallbacks[arm, default: 0] += 1 }
            lastCall[event.subject] = (arm, failed)
            arms[arm]!.append(call)
            conversationsOf[arm]!.insert(event.subject)
        }
        func summary(_ arm: String) -> ArmSummary {
            let calls = arms[arm]!
            let errors = calls.filter { $0.errorCode != nil }.count
            let ok = calls.filter { $0.errorCode == nil }
            let ttft = ok.compactMap(\.ttftMs).map(Double.init).sorted()
            let total = ok.compactMap(\.totalMs).map(Double.init).sorted()
            let tokens = ok.compactMap(\.tokensOut)
            let flags = ok.compactMap(\.refusal)
            let refused = flags.filter { $0 }.count
            let lengths = ok.compactMap(\.replyChars).map(Double.init).sorted()
            let rated = ratings[arm] ?? (0, 0)
            return ArmSummary(
                arm: arm, conversations: conversationsOf[arm]!.count, calls: calls.count, errors: errors,
                errorRate: calls.isEmpty ? 0 : Double(errors) / Double(calls.count),
                errorInterval: Statistics.wilson(successes: errors, trials: calls.count),
                fallbacks: fallbacks[arm] ?? 0,
                fallbackRate: ok.isEmpty ? 0 : Double(fallbacks[arm] ?? 0) / Double(ok.count),
                ratings: rated.total, thumbsUp: rated.up,
                thumbsUpRate: rated.total == 0 ? nil : Double(rated.up) / Double(rated.total),
                thumbsUpInterval: rated.total == 0 ? nil : Statistics.wilson(successes: rated.up, trials: rated.total),
                ttftP50: ttft.isEmpty ? nil : Statistics.quantile(sorted: ttft, 0.5),
                ttftP95: ttft.isEmpty ? nil : Statistics.quantile(sorted: ttft, 0.95),
                totalP50: total.isEmpty ? nil : Statistics.quantile(sorted: total, 0.5),
                totalP95: total.isEmpty ? nil : Statistics.quantile(sorted: total, 0.95),
                tokensPerReply: tokens.isEmpty ? nil : Double(tokens.reduce(0, +)) / Double(tokens.count),
                flaggedReplies: flags.count, refusals: refused,
                refusalRate: flags.isEmpty ? nil : Double(refused) / Double(flags.count),
                refusalInterval: flags.isEmpty ? nil : Statistics.wilson(successes: refused, trials: flags.count),
                replyCharsP50: lengths.isEmpty ? nil : Statistics.quantile(sorted: lengths, 0.5),
                replyCharsP95: lengths.isEmpty ? nil : Statistics.quantile(sorted: lengths, 0.95),
                tone: nil,
                costMicros: calls.compactMap(\.costMicros).reduce(0, +),
                promptVersions: Dictionary(grouping: calls, by: \.promptVersion).mapValues(\.count),
                models: Dictionary(grouping: calls, by: \.modelID).mapValues(\.count))
        }
        control = summary("control")
        canary = summary("canary")
        self.stops = stops
        (verdict, reason) = Self.verdict(control: control, canary: canary, rule: rule)
    }

    static func verdict(control: ArmSummary, canary: ArmSummary, rule: Rule) -> (String, String) {
        if canary.calls > 0, control.calls > 0, canary.errorInterval.low > control.errorInterval.high {
            return ("roll-back", "the canary's error-rate interval lies wholly above control's")
        }
        if let mine = canary.refusalInterval, let theirs = control.refusalInterval, mine.low > theirs.high {
            return ("roll-back", "the canary's refusal-rate interval lies wholly above control's")
        }
        if let mine = canary.thumbsUpInterval, let theirs = control.thumbsUpInterval, mine.high < theirs.low {
            return ("roll-back", "the canary's thumbs-up interval lies wholly below control's")
        }
        if let mine = canary.totalP95, let theirs = control.totalP95, mine > theirs * rule.latencyFactor {
            return ("roll-back", "the canary's p95 latency exceeds control's by more than \(rule.latencyFactor)x")
        }
        guard canary.conversations >= rule.minimumConversations else {
            return ("keep", "fewer than \(rule.minimumConversations) canary conversations so far")
        }
        guard canary.errorRate <= control.errorInterval.high else {
            return ("keep", "the canary's error rate is above control's interval")
        }
        if let rate = canary.refusalRate, let theirs = control.refusalInterval, rate > theirs.high {
            return ("keep", "the canary's refusal rate is above control's interval")
        }
        if let rate = canary.thumbsUpRate, let theirs = control.thumbsUpInterval, rate < theirs.low {
            return ("keep", "the canary's thumbs-up rate is below control's interval")
        }
        return (
            "promote",
            "at least \(rule.minimumConversations) canary conversations, error, refusal and thumbs-up rates within "
                + "control's intervals, p95 latency within \(rule.latencyFactor)x of control's"
        )
    }
}
