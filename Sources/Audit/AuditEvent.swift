// What one audit record says: who did what to which subject, from where, with what outcome, and for
// model calls the routing facts a compliance officer asks about (model, prompt version, provider,
// residency, canary arm, decision and rule, tags, detector hit counts, tokens, latency, cost).
// There is deliberately no field for message text, prompts or replies: an audit record must be
// safe to hand to a SIEM. Identifiers that are themselves personal data are stored as keyed HMACs
// (see `AuditLog.pseudonym(_:)`); the log does this for `origin` (a client IP address is personal data)
// on every append. User names stay in the clear: reports per user are the point of the log. Conversation
// ids stay in the clear too: they are random and opaque, carry no content, and compliance needs them to
// tie a break-glass or deletion record to the conversation. A caller writing a value that may be
// sensitive (e.g. the name typed at a failed login, which may be a mistyped password) passes
// `log.pseudonym(value)` as the subject.

/// One auditable event, as the caller describes it. `AuditLog.append` turns it into an `AuditRecord`.
public struct AuditEvent: Sendable, Equatable {
    /// When the event happened (stored in whole milliseconds, UTC).
    public var time: UTCMillis
    /// The user who acted (`-` for the system itself or an unauthenticated peer).
    public var actor: String
    /// The actor's role at the time (`staff`, `compliance`, `admin`, or `-`).
    public var role: String
    /// The client's address. The log stores only its keyed HMAC (`hmac:<32 hex>`), never the address.
    public var origin: String
    /// A dotted action name, e.g. `auth.login`, `model.call`; see `AuditAction`.
    public var action: String
    /// What the action was applied to: a conversation id, a user name, a policy digest, or `-`.
    public var subject: String
    /// `ok`, or a stable kebab-case code such as `denied`, `auth-failed`, `policy-blocked`.
    public var outcome: String
    /// A short machine value (`role=admin`, `reason-hmac=...`), never message text; nil when unused.
    public var detail: String?
    /// The routing and cost facts of a model call or a routing decision; nil for security events.
    public var call: ModelCallFields?

    public init(
        time: UTCMillis = .now, actor: String, role: String, origin: String = "-", action: String,
        subject: String = "-", outcome: String = "ok", detail: String? = nil, call: ModelCallFields? = nil
    ) {
        self.time = time
        self.actor = actor
        self.role = role
        self.origin = origin
        self.action = action
        self.subject = subject
        self.outcome = outcome
        self.detail = detail
        self.call = call
    }
}

/// The facts of one model call (or of a routing decision that blocked one).
public struct ModelCallFields: Sendable, Equatable {
    /// The model the provider reports, e.g. `SmolLM2-135M-Instruct-Q4_1` (empty when blocked before routing).
    public var modelID: String
    /// The system prompt's name and version, e.g. `default.v3`.
    public var promptVersion: String
    /// The provider's configured name (empty when no provider was allowed).
    public var provider: String
    /// `on-prem`, `vpc` or `external` (empty when no provider was chosen).
    public var residency: String
    /// The canary arm (`control`, `canary`, ...) when the conversation is in an experiment.
    public var canaryArm: String?
    /// `allowed` or `blocked`.
    public var decision: String
    /// The policy rule that made the decision.
    public var rule: String
    /// The conversation's tags at decision time (stored sorted, without duplicates).
    public var tags: [String]
    /// Detector name → number of hits in the new message (stored sorted by name).
    public var detectorCounts: [String: Int]
    public var tokensIn: Int?
    public var tokensOut: Int?
    /// Milliseconds to the first streamed token.
    public var ttftMs: Int?
    /// Milliseconds for the whole call.
    public var totalMs: Int?
    /// Cost in millionths of the pricing currency (prices are per million tokens, so this is exact).
    public var costMicros: Int?
    /// A stable error code when the call failed (`provider-unavailable`, `cancelled`, ...).
    public var errorCode: String?
    /// The finished reply's length in characters (a count: the text itself is never in the log).
    public var replyChars: Int?
    /// Whether the finished reply was a refusal, flagged when it finished (stored as `refusal: 0|1`).
    public var refusal: Bool?
    /// The provider's configured region, when it has one.
    public var region: String?
    /// Why the router chose the plan's primary: `explicit`, `sticky`, `canary`, `default` or `allowed`.
    public var route: String?
    /// SHA-256 of the policy set that decided (absent when none was loaded).
    public var policySHA256: String?
    /// Whether the token counts are Enclave's estimate (the provider reported none; stored as `0|1`).
    public var tokensEstimated: Bool?
    /// History turns left out to fit the provider's context.
    public var droppedTurns: Int?

    public init(
        modelID: String, promptVersion: String, provider: String, residency: String, canaryArm: String? = nil,
        decision: String, rule: String, tags: [String] = [], detectorCounts: [String: Int] = [:],
        tokensIn: Int? = nil, tokensOut: Int? = nil, ttftMs: Int? = nil, totalMs: Int? = nil,
        costMicros: Int? = nil, errorCode: String? = nil, replyChars: Int? = nil, refusal: Bool? = nil,
        region: String? = nil, route: String? = nil, policySHA256: String? = nil, tokensEstimated: Bool? = nil,
        droppedTurns: Int? = nil
    ) {
        self.region = region
        self.route = route
        self.policySHA256 = policySHA256
        self.tokensEstimated = tokensEstimated
        self.droppedTurns = droppedTurns
        self.replyChars = replyChars
        self.refusal = refusal
        self.modelID = modelID
        self.promptVersion = promptVersion
        self.provider = provider
        self.residency = residency
        self.canaryArm = canaryArm
        self.decision = decision
        self.rule = rule
        self.tags = tags
        self.detectorCounts = detectorCounts
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.ttftMs = ttftMs
        self.totalMs = totalMs
        self.costMicros = costMicros
        self.errorCode = errorCode
    }
}

/// The action names Enclave writes. Callers may add others; keep them dotted and lower-case.
public enum AuditAction {
    public static let login = "auth.login"
    public static let loginFailure = "auth.failure"
    public static let lockout = "auth.lockout"
    public static let logout = "auth.logout"
    public static let userCreate = "user.create"
    public static let userRole = "user.role"
    public static let userPassword = "user.password"
    public static let userDisable = "user.disable"
    public static let userEnable = "user.enable"
    public static let userGroups = "user.groups"
    public static let userUnlock = "user.unlock"
    public static let userDelete = "user.delete"
    /// A person's conversations exported on request (right of access); never their content.
    public static let userExport = "user.export"
    /// A person's data erased on request (right to erasure): every conversation crypto-shredded.
    public static let userErase = "user.erase"
    /// A legal hold placed or lifted (the reason is never recorded).
    public static let holdAdd = "hold.add"
    public static let holdRemove = "hold.remove"
    /// A conversation crypto-shredded because its retention period ended (detail names the rule).
    public static let retentionExpire = "retention.expire"
    /// An online backup taken, or restored into a new data directory.
    public static let backupCreate = "backup.create"
    public static let backupRestore = "backup.restore"
    public static let policyLoad = "policy.load"
    public static let policyReject = "policy.reject"
    public static let keyInit = "key.init"
    public static let keyRotate = "key.rotate"
    public static let conversationDelete = "conversation.delete"
    public static let tagRemove = "tag.remove"
    public static let forbidden = "access.forbidden"
    public static let breakGlass = "audit.break-glass"
    public static let auditQuery = "audit.query"
    public static let auditRecover = "audit.recover"
    /// Records older than the audit retention period removed from the front of the log (AuditPrune).
    public static let auditPrune = "audit.prune"
    /// A routing decision, written before any byte goes to a provider (or instead, when blocked).
    public static let modelDecision = "model.decision"
    /// A finished (or failed) model call with tokens, latency and cost.
    public static let modelCall = "model.call"
}
