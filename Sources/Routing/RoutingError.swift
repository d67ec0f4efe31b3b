// The errors of routing and of providers, each with a stable kebab-case code. Only two codes reach a
// client (`policy-blocked`, `provider-unavailable`, see DESIGN.md §3); the finer provider codes go to
// the call record and the audit log. No error text ever carries message content, prompts or keys.

/// The stable kinds of provider failure (`RoutingError.provider`); each raw value is the failure's code in
/// call records and the audit log.
public enum ProviderFailure: String, Sendable, CaseIterable {
    /// Connection refused or host unreachable: nothing is listening.
    case down = "provider-down"
    /// Connecting or waiting for bytes took longer than the configured timeout.
    case timeout = "provider-timeout"
    /// The provider answered with a server-side HTTP error (5xx, 429, 408): may pass.
    case httpStatus = "provider-http-error"
    /// The provider refused the request (another 4xx: bad key, bad request): retrying will not help.
    case rejected = "provider-rejected"
    /// The provider's stream broke the SSE or chunk format.
    case malformedStream = "provider-malformed-stream"
    /// The stream ended (or the connection closed) before the reply was complete.
    case streamCut = "provider-stream-cut"
    /// The provider reported an error inside its stream.
    case reported = "provider-error"
    /// The provider is misconfigured (bad URL, missing key file).
    case configuration = "provider-config"
    /// The local engine failed.
    case engine = "provider-engine"
    /// The caller cancelled the call.
    case cancelled = "cancelled"

    /// Whether retrying the same provider may help (only ever done before the first token).
    public var isRetryable: Bool {
        switch self {
        case .down, .timeout, .httpStatus, .streamCut: true
        case .rejected, .malformedStream, .reported, .configuration, .engine, .cancelled: false
        }
    }
}

/// Routing's one error type: why the router could not produce a plan, why a routed call could not be
/// completed, or why one provider call failed.
public enum RoutingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The policy allows no provider, or not the one the user asked for.
    case policyBlocked(provider: String?, rule: String, tags: Set<String>)
    /// Allowed providers exist but none is healthy, or all failed.
    case providerUnavailable(reason: String)
    /// The user asked for a provider the registry does not know.
    case unknownProvider(String)
    /// The system prompt and the new message alone exceed the provider's context.
    case contextOverflow(tokens: Int, limit: Int)
    /// One provider call failed: its kind and a short, content-free explanation (a status number, a byte
    /// offset; never a body or a key). Goes into the call record; the client sees `provider-unavailable`.
    case provider(ProviderFailure, String = "")

    /// The kind of a provider call's failure (nil for the router's own errors).
    public var providerFailure: ProviderFailure? {
        if case .provider(let kind, _) = self { return kind }
        return nil
    }

    /// The stable code: the wire code of DESIGN.md §3 for the router's errors, the failure's own code
    /// (`provider-timeout`, ...) for a provider call's.
    public var code: String {
        switch self {
        case .policyBlocked: return "policy-blocked"
        case .providerUnavailable: return "provider-unavailable"
        case .unknownProvider: return "not-found"
        case .contextOverflow: return "bad-arguments"
        case .provider(let kind, _): return kind.rawValue
        }
    }

    /// The text after the code on the `ERR` line: names the rule and the tags, never content.
    public var message: String {
        switch self {
        case .policyBlocked(let provider, let rule, let tags):
            let tagList = tags.isEmpty ? "none" : tags.sorted().joined(separator: ",")
            let target = provider.map { "provider \($0) " } ?? "no provider "
            return "\(target)is not allowed by rule \(rule) (tags: \(tagList))"
        case .providerUnavailable(let reason):
            return "no allowed provider is available (\(reason))"
        case .unknownProvider(let name):
            return "unknown model \(name); /models lists them"
        case .contextOverflow(let tokens, let limit):
            return "message too long for the model's context (\(tokens) tokens, room for \(limit))"
        case .provider(_, let detail):
            return detail
        }
    }

    public var description: String {
        if case .provider(_, let detail) = self { return detail.isEmpty ? code : "\(code): \(detail)" }
        return "\(code) \(message)"
    }
}
