// How a reply stops early, and the policy refusal staff see.

/// Thrown by ChatCore's text handler to stop a reply early (`disconnected`, `shutdown`).
public struct ChatStop: Error, Sendable, Equatable {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }
}

extension ChatFailure {
    /// `policy-blocked`, naming the rule, the tags and the policy's reason (never content).
    public static func policyBlocked(rule: String, tags: Set<String>, provider: String? = nil, reason: String = "")
        -> ChatFailure
    {
        let shown = tags.isEmpty ? "none" : tags.sorted().joined(separator: ",")
        let verdict = provider.map { "\($0) is not allowed" } ?? "no provider is allowed"
        let why = reason.isEmpty ? "" : " (\(reason))"
        return ChatFailure(.policyBlocked, "rule=\(rule) tags=\(shown): \(verdict) for this conversation\(why)")
    }
}
