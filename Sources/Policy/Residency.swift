// Where a provider runs, and the registry entry the policy needs to judge it.
// The provider registry itself lives in the server configuration (Routing); the policy only needs a
// name, a residency class and an optional region to decide whether a conversation may go there.

/// The residency class of a provider, from most to least contained.
public enum Residency: String, Sendable, Hashable, CaseIterable, Comparable {
    /// The in-process engine on the organisation's own hardware.
    case onPrem = "on-prem"
    /// A serving engine inside the organisation's network or private cloud.
    case vpc
    /// A third-party API outside the organisation.
    case external

    /// Containment order: on-prem < vpc < external.
    var rank: Int {
        switch self {
        case .onPrem: 0
        case .vpc: 1
        case .external: 2
        }
    }

    public static func < (lhs: Residency, rhs: Residency) -> Bool { lhs.rank < rhs.rank }
}

/// What the policy knows about one provider in the registry.
public struct ProviderDescriptor: Sendable, Hashable {
    /// The provider's name, as users and rules spell it (`local`, `vpc-llm`, `external-gpt`).
    public var name: String
    /// Where the provider runs.
    public var residency: Residency
    /// The provider's region (e.g. `eu-west-2`), if it has one.
    public var region: String?

    public init(name: String, residency: Residency, region: String? = nil) {
        self.name = name
        self.residency = residency
        self.region = region
    }

    /// The registry the shipped baseline policy and its tests assume; the routing helper's default
    /// server configuration declares the same three names.
    public static let baseline: [ProviderDescriptor] = [
        ProviderDescriptor(name: "local", residency: .onPrem),
        ProviderDescriptor(name: "vpc-llm", residency: .vpc, region: "on-site"),
        ProviderDescriptor(name: "external-gpt", residency: .external, region: "eu-west"),
    ]
}
