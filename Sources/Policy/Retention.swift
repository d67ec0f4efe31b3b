// Retention schedules in the policy files: how long a conversation is kept after its last activity,
// chosen by its tags and its owner's groups. Pure data and one pure function, like `evaluate`.
//
//   retention:
//     - name: pci-one-year
//       when: {tags: [pci]}          # any of these tags (and, if given, any of these groups)
//       days: 365
//     - name: everything-six-years   # no `when`: every conversation
//       days: 2192
//
// When several rules match, the longest period wins: a schedule says how long records must be kept,
// and deleting before any applicable schedule ends is the worse mistake. A conversation no rule
// matches is kept indefinitely. Legal holds (Storage) override every rule.

/// One retention rule.
public struct RetentionRule: Sendable, Hashable {
    public var name: String
    public var description: String
    /// Matches when the conversation has any of these tags (nil: any tags, or none).
    public var tags: Set<String>?
    /// Matches when the owner is in any of these groups (nil: any owner).
    public var groups: Set<String>?
    /// Days after the conversation's last activity it is kept.
    public var days: Int
    public var location: SourcePosition

    public init(
        name: String, description: String = "", tags: Set<String>? = nil, groups: Set<String>? = nil, days: Int,
        location: SourcePosition
    ) {
        self.name = name
        self.description = description
        self.tags = tags
        self.groups = groups
        self.days = days
        self.location = location
    }

    /// Whether this rule applies to a conversation with `tags` owned by a member of `groups`.
    public func matches(tags conversationTags: Set<String>, groups ownerGroups: [String]) -> Bool {
        if let tags, tags.isDisjoint(with: conversationTags) { return false }
        if let groups, groups.isDisjoint(with: ownerGroups) { return false }
        return true
    }
}

extension PolicySet {
    /// The rule that decides how long a conversation with `tags` owned by a member of `groups` is kept:
    /// the matching rule with the most days (the first in file order among equals); nil keeps it.
    public func retentionRule(tags: Set<String>, groups: [String]) -> RetentionRule? {
        var chosen: RetentionRule?
        for rule in retention where rule.matches(tags: tags, groups: groups) {
            if chosen.map({ rule.days > $0.days }) ?? true { chosen = rule }
        }
        return chosen
    }
}
