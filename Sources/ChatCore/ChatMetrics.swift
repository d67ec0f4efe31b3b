// The chat's metrics, recorded where the events happen, through swift-metrics: the executable chooses
// the backend (Prometheus in `enclave serve`), and without one every call is a no-op. Each metric object
// is made at the event rather than kept in a static, so one made before the backend was chosen never
// stays a no-op. Labels hold vocabulary only — provider and rule names from the configuration, outcomes
// and error codes from the protocol — never message text, titles or user names.
import Metrics
import Routing

/// The names and labels of ChatCore's metrics (README, "Running as a service", lists them).
enum ChatMetrics {
    /// One chat message answered: `outcome` is `ok` or the final line's error code.
    static func message(outcome: String) {
        Counter(label: "enclave_messages_total", dimensions: [("outcome", outcome)]).increment()
    }

    /// One provider attempt finished: its tokens, time to first token and whole latency, per provider.
    static func attempt(_ record: CallRecord) {
        let provider = [("provider", record.provider)]
        Counter(label: "enclave_provider_calls_total", dimensions: provider + [("outcome", record.outcome.rawValue)])
            .increment()
        if record.tokensIn > 0 {
            Counter(label: "enclave_tokens_in_total", dimensions: provider).increment(by: record.tokensIn)
        }
        if record.tokensOut > 0 {
            Counter(label: "enclave_tokens_out_total", dimensions: provider).increment(by: record.tokensOut)
        }
        if let ttft = record.ttftMs {
            Timer(label: "enclave_ttft_seconds", dimensions: provider).recordMilliseconds(Int(ttft.rounded()))
        }
        Timer(label: "enclave_reply_seconds", dimensions: provider).recordMilliseconds(Int(record.totalMs.rounded()))
    }

    /// One policy decision, by the rule that made it; `allowed` is false when no provider may see the
    /// conversation.
    static func decision(rule: String, allowed: Bool) {
        let outcome = allowed ? "allowed" : "denied"
        Counter(label: "enclave_decisions_total", dimensions: [("rule", rule), ("outcome", outcome)]).increment()
    }

    /// One message the policy refused (`ERR policy-blocked`), by the rule that refused it.
    static func block(rule: String) {
        Counter(label: "enclave_blocks_total", dimensions: [("rule", rule)]).increment()
    }

    /// One row that failed authentication; `kind` is `conversation` or `user` (never the row's name).
    static func integrityFailure(kind: String) {
        Counter(label: "enclave_integrity_failures_total", dimensions: [("kind", kind)]).increment()
    }

    /// One refused login, by its audited outcome (`failed`, `unknown-user`, `locked-out`, `disabled`, ...).
    static func failedLogin(outcome: String) {
        Counter(label: "enclave_failed_logins_total", dimensions: [("outcome", outcome)]).increment()
    }
}
