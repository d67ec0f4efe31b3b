// The canary: a candidate provider that serves a fixed share of eligible new conversations.
//
// Assignment is sticky and needs no state: a conversation is on the canary when
// SHA-256(key ‖ 0x00 ‖ conversation id), read as a big-endian 64-bit number from its first 8 bytes,
// falls below percent/100 of the 64-bit range. The key (from a file or an environment variable)
// keeps users from choosing ids that land on an arm. SHA-256 behaves as a uniform hash, so the share
// over many conversations converges on the percentage; the same id always gives the same bucket,
// so a conversation never changes arm while it stays eligible.
//
// Eligibility is written in policy terms: `tags: none` (only untagged conversations) and an optional
// list of groups (the user must be in one). A conversation that stops being eligible (it gets a tag)
// leaves the canary; the policy always wins over stickiness.
internal import EnclaveConfiguration
internal import EnclaveCrypto
internal import Foundation
internal import Yams

/// The arm of a call, recorded on every call.
public enum CanaryArm: String, Sendable, Equatable {
    /// No canary is configured, or the conversation is not eligible, or the user chose a model.
    case none
    /// Eligible and served by the usual route.
    case control
    /// Eligible and in the canary's share.
    case canary
}

/// Who may land on the canary.
public struct CanaryEligibility: Sendable, Equatable {
    /// Only conversations without any tag.
    public var requireNoTags: Bool
    /// If non-empty, only users in one of these groups.
    public var groups: Set<String>

    public init(requireNoTags: Bool = true, groups: Set<String> = []) {
        self.requireNoTags = requireNoTags
        self.groups = groups
    }

    public func admits(tags: Set<String>, groups userGroups: [String]) -> Bool {
        if requireNoTags, !tags.isEmpty { return false }
        if !groups.isEmpty, groups.isDisjoint(with: userGroups) { return false }
        return true
    }
}

/// A configured canary.
public struct CanaryConfiguration: Sendable {
    public var provider: String
    /// Share of eligible conversations, 0...100.
    public var percent: Double
    public var eligibility: CanaryEligibility
    /// When the canary stops receiving new conversations on its own (nil: never).
    public var stopWhen: CanaryStopBounds?
    private let key: [UInt8]

    public init(provider: String, percent: Double, key: [UInt8], eligibility: CanaryEligibility = CanaryEligibility()) {
        self.provider = provider
        self.percent = percent
        self.key = key
        self.eligibility = eligibility
    }

    /// Whether the conversation's keyed hash falls in the canary's share (eligibility aside).
    public func inCanaryShare(conversation: String) -> Bool {
        guard percent > 0 else { return false }
        guard percent < 100 else { return true }
        guard let digest = try? SHA256.hash(key + [0] + Array(conversation.utf8)) else { return false }
        let bucket = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let scaled = (percent / 100 * 18_446_744_073_709_551_616.0).rounded(.down)
        let threshold = scaled >= 18_446_744_073_709_551_615.0 ? UInt64.max : UInt64(scaled)
        return bucket < threshold
    }

    /// The arm of a conversation: `none` when ineligible, else by its keyed hash.
    public func arm(conversation: String, tags: Set<String>, groups: [String]) -> CanaryArm {
        guard eligibility.admits(tags: tags, groups: groups) else { return .none }
        return inCanaryShare(conversation: conversation) ? .canary : .control
    }

    /// Parses `routing.canary`. A canary names a provider other than the default: the canary's provider
    /// serves only its own arm, so a canary on the default would leave every other conversation with no
    /// usable provider.
    static func parse(
        _ node: Node, reader: ConfigurationReader, providers: Set<String>, defaultProvider: String,
        baseDirectory: String?
    ) throws(ConfigurationError) -> CanaryConfiguration {
        let map = try reader.mapping(
            node, "routing.canary", allowed: ["provider", "percent", "key_file", "key_env", "eligible", "stop_when"],
            required: ["provider", "percent"])
        let provider = try reader.string(map["provider"]!, "canary provider")
        guard providers.contains(provider) else {
            throw reader.error(map["provider"], "the canary names unknown provider '\(provider)'")
        }
        guard provider != defaultProvider else {
            throw reader.error(
                map["provider"], "the canary must name a provider other than the default ('\(defaultProvider)')",
                hint: "a canary tries a new provider on a share of conversations; remove the section to have none")
        }
        let percent = try reader.double(map["percent"]!, "canary percent", range: 0...100)
        var key: [UInt8] = []
        switch (map["key_file"], map["key_env"]) {
        case (let fileNode?, nil):
            var path = try reader.string(fileNode, "key_file")
            path = RoutingConfiguration.resolve(path, against: baseDirectory)
            guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
                throw reader.error(fileNode, "cannot read the canary key file \(path)")
            }
            key = Array(data)
        case (nil, let envNode?):
            let name = try reader.string(envNode, "key_env")
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                throw reader.error(envNode, "the environment variable \(name) is not set")
            }
            key = Array(value.utf8)
        case (nil, nil):
            if percent > 0 {
                throw reader.error(
                    node, "a canary above 0% needs key_file or key_env",
                    hint: "32 random bytes, e.g. head -c32 /dev/urandom > canary.key")
            }
        case (_, let envNode?):
            throw reader.error(envNode, "give either key_file or key_env for the canary, not both")
        }
        var eligibility = CanaryEligibility()
        if let eligible = map["eligible"] {
            let rules = try reader.mapping(eligible, "canary eligible", allowed: ["tags", "groups"])
            if let tags = rules["tags"] {
                switch try reader.string(tags, "eligible tags") {
                case "none": eligibility.requireNoTags = true
                case "any": eligibility.requireNoTags = false
                default: throw reader.error(tags, "eligible tags must be 'none' or 'any'")
                }
            }
            if let groups = rules["groups"] { eligibility.groups = Set(try reader.strings(groups, "eligible groups")) }
        }
        var canary = CanaryConfiguration(provider: provider, percent: percent, key: key, eligibility: eligibility)
        if let stop = map["stop_when"] { canary.stopWhen = try CanaryStopBounds.parse(stop, reader: reader) }
        return canary
    }
}
