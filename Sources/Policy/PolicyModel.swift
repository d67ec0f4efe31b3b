// The typed form of a policy set, after strict loading: tags, detectors, defaults and rules.
// Everything here is an immutable value, shared freely between connections.

/// Where in the policy files something was defined, for messages that send the admin back to it.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A tag the policy knows, and the detectors that set it.
public struct TagDefinition: Sendable, Hashable {
    public var name: String
    public var description: String
    /// Detector names (built-in or admin-defined) whose findings set this tag.
    public var detectors: [String]
    public var location: SourceLocation
}

/// When a rule applies. Every condition present must hold; absent conditions always hold.
public struct RuleCondition: Sendable, Hashable {
    /// At least one of these tags is on the conversation.
    public var anyTags: Set<String> = []
    /// All of these tags are on the conversation.
    public var allTags: Set<String> = []
    /// None of these tags is on the conversation.
    public var noTags: Set<String> = []
    /// `true`: only untagged conversations; `false`: only tagged ones; nil: either.
    public var untagged: Bool?
    /// The user is one of these (nil: anyone).
    public var users: Set<String>?
    /// The user is in one of these groups (nil: any group or none).
    public var groups: Set<String>?

    public init() {}

    /// The tags this rule governs: a rule speaks for a tag only if it names it in `any` or `all`.
    public var governedTags: Set<String> { anyTags.union(allTags) }

    func matches(tags: Set<String>, user: String, groups userGroups: [String]) -> Bool {
        if !anyTags.isEmpty, anyTags.isDisjoint(with: tags) { return false }
        if !allTags.isSubset(of: tags) { return false }
        if !noTags.isDisjoint(with: tags) { return false }
        if let untagged, untagged != tags.isEmpty { return false }
        if let users, !users.contains(user) { return false }
        if let groups, groups.isDisjoint(with: userGroups) { return false }
        return true
    }
}

/// Where a rule lets a conversation go. A provider is allowed if its residency class is listed (and,
/// when `regions` is given, its region is listed or it is on-prem), or if it is named in `providers`.
public struct RuleAllowance: Sendable, Hashable {
    public var residency: Set<Residency> = []
    public var regions: Set<String>?
    public var providers: Set<String> = []

    public init(residency: Set<Residency> = [], regions: Set<String>? = nil, providers: Set<String> = []) {
        self.residency = residency
        self.regions = regions
        self.providers = providers
    }

    public func allows(_ provider: ProviderDescriptor) -> Bool {
        if providers.contains(provider.name) { return true }
        guard residency.contains(provider.residency) else { return false }
        guard let regions, provider.residency != .onPrem else { return true }
        return provider.region.map(regions.contains) ?? false
    }
}

/// One rule of the policy.
public struct PolicyRule: Sendable, Hashable {
    public var name: String
    public var description: String
    /// Higher wins when two rules speak for the same tag (or both are general rules).
    public var priority: Int
    public var when: RuleCondition
    public var allow: RuleAllowance
    public var location: SourceLocation
    /// Position in the merged policy (files sorted by name, rules in file order); breaks ties.
    public var order: Int
}

/// How a detector is set up in this policy.
public struct DetectorDefinition: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case builtin(BuiltinDetector)
        case pattern(count: Int)
        case keywords(count: Int)
    }

    public var name: String
    public var kind: Kind
    public var enabled: Bool
    public var minConfidence: Double
    public var location: SourceLocation?
}
