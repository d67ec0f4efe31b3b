// The retention sweep: crypto-shreds every conversation whose retention period (the policy's
// `retention:` rules, Policy/Retention.swift) has ended, measured from its last activity. A conversation
// under legal hold is kept whatever its age; one whose rows fail their integrity check, or whose
// owner's row does (its groups are unknown, so a longer rule might apply), is reported and kept.
// Each shredding is audited first, naming the rule and its period: no record, no deletion. The audit
// log itself is never swept; it keeps its own retention.
//
// The clock is a parameter so tests can move time; `enclave serve` runs the sweep daily
// (`RetentionService`), `enclave retention sweep [--dry-run]` on demand.
public import Audit
public import Foundation
public import Policy
public import Storage

/// One pass of the retention rules over every conversation.
public struct RetentionSweep: Sendable {
    /// A conversation whose period has ended.
    public struct Expired: Sendable, Equatable {
        public var id: ConversationID
        public var owner: String
        public var rule: String
        public var days: Int
        public var lastActivity: Date
    }

    /// What a pass found and did.
    public struct Report: Sendable, Equatable {
        /// Expired and not held: shredded (or, in a dry run, would be).
        public var expired: [Expired] = []
        /// Expired but kept by a legal hold.
        public var held: [ConversationID] = []
        /// Not judged: a row (the conversation's or its owner's) failed its integrity check.
        public var damaged: [ConversationID] = []
        /// How many conversations no rule has expired yet.
        public var kept = 0
    }

    let store: Store
    let now: @Sendable () -> Date
    /// Who the audit records name as actor (`system:retention` in the server, the operator otherwise).
    let actor: String
    let role: String
    let audit: @Sendable ([AuditEvent]) async throws -> Void
    /// Conversations read per Store call.
    let pageSize: Int

    /// - Parameters:
    ///   - now: the clock the periods are measured against.
    ///   - pageSize: conversations read per Store call (appends interleave between calls).
    ///   - audit: writes records durably; a failure stops the sweep before the deletion it covers.
    public init(
        store: Store, actor: String, role: String, now: @escaping @Sendable () -> Date = { Date() },
        pageSize: Int = 500, audit: @escaping @Sendable ([AuditEvent]) async throws -> Void
    ) {
        self.pageSize = max(1, pageSize)
        self.store = store
        self.actor = actor
        self.role = role
        self.now = now
        self.audit = audit
    }

    /// Applies `policy`'s retention rules once. With `dryRun`, reports without auditing or deleting.
    public func run(policy: PolicySet, dryRun: Bool = false) async throws -> Report {
        var report = Report()
        guard !policy.retention.isEmpty else { return report }
        let users = try await store.userListing()
        let groups = Dictionary(users.verified.map { ($0.name, $0.groups) }, uniquingKeysWith: { a, _ in a })
        let time = now()
        var after: ConversationID?
        while true {
            let page = try await store.conversations(after: after, limit: pageSize)
            guard let last = (page.summaries.map(\.id) + page.damaged.map(\.id)).max() else { break }
            after = last
            report.damaged += page.damaged.map(\.id)
            try await judge(page.summaries, policy: policy, groups: groups, at: time, dryRun: dryRun, into: &report)
        }
        return report
    }

    /// Applies the rules to one page of conversations.
    private func judge(
        _ page: [ConversationSummary], policy: PolicySet, groups: [String: [String]], at time: Date, dryRun: Bool,
        into report: inout Report
    ) async throws {
        for conversation in page {
            guard let owner = groups[conversation.owner] else {
                report.damaged.append(conversation.id)
                continue
            }
            guard let rule = policy.retentionRule(tags: conversation.tags, groups: owner),
                conversation.updated.addingTimeInterval(Double(rule.days) * 86_400) <= time
            else {
                report.kept += 1
                continue
            }
            guard try await store.holdsKeeping(conversation.id, owner: conversation.owner).isEmpty else {
                report.held.append(conversation.id)
                continue
            }
            let expired = Expired(
                id: conversation.id, owner: conversation.owner, rule: rule.name, days: rule.days,
                lastActivity: conversation.updated)
            if !dryRun {
                guard try await shred(expired) else {
                    report.held.append(conversation.id)
                    continue
                }
            }
            report.expired.append(expired)
        }
    }

    /// Audits, then crypto-shreds one expired conversation; false when a hold placed meanwhile kept it.
    private func shred(_ expired: Expired) async throws -> Bool {
        try await audit([
            AuditEvent(
                actor: actor, role: role, action: AuditAction.retentionExpire, subject: expired.id.rawValue,
                detail: "rule=\(expired.rule) days=\(expired.days) owner=\(expired.owner)")
        ])
        do {
            try await store.delete(expired.id)
            return true
        } catch let error as StoreError where error.code == .held || error.code == .notFound {
            return error.code == .notFound
        }
    }
}
