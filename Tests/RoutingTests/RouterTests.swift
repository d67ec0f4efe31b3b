// The router's plans: explicit choices, stickiness, the canary's share and eligibility, fallbacks that
// never widen residency or leave the allowed set, and the two refusals. Decisions come from the real
// policy engine over a test policy (see TestSupport.swift).
import EnclaveTestSupport
import Policy
import Testing

@testable import Routing

@Suite struct RouterTests {
    static let providers: [ProviderInfo] = [
        ProviderInfo(name: "local", residency: .onPrem, model: "smol"),
        ProviderInfo(name: "vpc-a", residency: .vpc, model: "a"),
        ProviderInfo(name: "vpc-b", residency: .vpc, model: "b"),
        ProviderInfo(name: "external-gpt", residency: .external, model: "gpt"),
    ]
    static let canary = CanaryConfiguration(
        provider: "vpc-b", percent: 5, key: Array("test canary key, 32 bytes long!!".utf8),
        eligibility: CanaryEligibility(requireNoTags: true))
    static let router = Router(providers: providers, defaultProvider: "vpc-a", canary: canary)
    static let all = ["local", "vpc-a", "vpc-b", "external-gpt"]
    static let everything = TestPolicy.decision(allowed: all)

    static func request(_ conversation: String = "c-1", requested: String? = nil, sticky: String? = nil) -> RouteRequest
    {
        RouteRequest(
            conversation: conversation, user: "ann", groups: ["staff"], requestedProvider: requested,
            stickyProvider: sticky)
    }

    @Test func anExplicitChoiceThatIsNotAllowedNamesRuleAndTags() {
        let decision = TestPolicy.decision(allowed: Self.all, tags: ["pii", "card"], requested: "external-gpt")
        do {
            _ = try Self.router.plan(Self.request(requested: "external-gpt"), decision: decision)
            Issue.record("a forbidden choice was routed")
        } catch {
            #expect(error.code == "policy-blocked")
            #expect(error.message.contains("rule card-stays-inside"))
            #expect(error.message.contains("card,pii"))
            #expect(error.message.contains("external-gpt"))
        }
    }

    @Test func anAllowedExplicitChoiceIsThePrimary() throws {
        let plan = try Self.router.plan(Self.request(requested: "external-gpt"), decision: Self.everything)
        #expect(plan.primary == "external-gpt")
        #expect(plan.reason == .explicit)
        #expect(plan.arm == .none)
        #expect(!plan.fallbacks.contains("vpc-b"))  // the canary is not a fallback off the canary arm
    }

    @Test func anUnknownChoiceIsNotFound() {
        #expect(throws: RoutingError.unknownProvider("nope")) {
            try Self.router.plan(Self.request(requested: "nope"), decision: Self.everything)
        }
    }

    @Test func aConversationStaysOnItsProvider() throws {
        let plan = try Self.router.plan(Self.request(sticky: "external-gpt"), decision: Self.everything)
        #expect(plan.primary == "external-gpt")
        #expect(plan.reason == .sticky)
    }

    @Test func aStickyProviderNoLongerAllowedIsLeft() throws {
        let decision = TestPolicy.decision(allowed: Self.all, tags: ["pii"])
        let plan = try Self.router.plan(Self.request(sticky: "external-gpt"), decision: decision)
        #expect(plan.primary == "vpc-a")
        #expect(Set(plan.candidates).isSubset(of: ["local", "vpc-a"]))
    }

    @Test func fallbacksNeverWidenResidencyNorLeaveTheAllowedSet() throws {
        var random = SplitMix64(seed: 7)
        let names = Self.providers.map(\.name)
        for index in 0..<2000 {
            let allowed = names.filter { _ in random.next() % 2 == 0 }
            let down = Set(names.filter { _ in random.next() % 4 == 0 })
            let requested = random.next() % 3 == 0 ? names.randomElement(using: &random) : nil
            let decision = TestPolicy.decision(allowed: allowed, requested: requested)
            let sticky = random.next() % 3 == 0 ? names.randomElement(using: &random) : nil
            let request = Self.request("conv-\(index)", requested: requested, sticky: sticky)
            do {
                let plan = try Self.router.plan(request, decision: decision, unavailable: down)
                #expect(Set(plan.candidates).isSubset(of: Set(allowed)))
                #expect(Set(plan.candidates).isDisjoint(with: down))
                #expect(Set(plan.candidates).count == plan.candidates.count)
                let intended = requested ?? plan.primary
                let ceiling = Self.router.info(intended)!.residency
                for name in plan.candidates { #expect(Self.router.info(name)!.residency <= ceiling) }
                if plan.arm != .canary, requested != "vpc-b" { #expect(!plan.candidates.contains("vpc-b")) }
            } catch {
                switch error {
                case .policyBlocked:
                    let refusedChoice = requested.map { !allowed.contains($0) } ?? false
                    #expect(allowed.isEmpty || refusedChoice || Set(allowed) == ["vpc-b"])
                case .providerUnavailable: #expect(!allowed.isEmpty)
                default: Issue.record("unexpected \(error)")
                }
            }
        }
    }

    @Test func nothingAllowedIsPolicyBlocked() {
        let decision = TestPolicy.decision(allowed: [])
        #expect(throws: RoutingError.policyBlocked(provider: nil, rule: "subset-0", tags: [])) {
            try Self.router.plan(Self.request(), decision: decision)
        }
    }

    @Test func nothingHealthyIsProviderUnavailable() {
        let decision = TestPolicy.decision(allowed: ["local", "vpc-a"])
        do {
            _ = try Self.router.plan(Self.request(), decision: decision, unavailable: ["local", "vpc-a"])
            Issue.record("a plan over down providers")
        } catch {
            #expect(error.code == "provider-unavailable")
        }
    }

    @Test func theCanaryShareIsFivePercentAndSticky() throws {
        var onCanary = 0
        for index in 0..<10_000 {
            let first = try Self.router.plan(Self.request("conversation-\(index)"), decision: Self.everything)
            #expect(first.arm == (first.primary == "vpc-b" ? .canary : .control))
            if first.arm == .canary { onCanary += 1 }
            // Later messages, with the sticky provider set, stay on the same arm and provider.
            let later = try Self.router.plan(
                Self.request("conversation-\(index)", sticky: first.primary), decision: Self.everything)
            #expect(later.arm == first.arm)
            #expect(later.primary == first.primary)
        }
        let share = Double(onCanary) / 10_000
        #expect(abs(share - 0.05) <= 0.007, "canary share \(share)")
    }

    @Test func anIneligibleConversationNeverLandsOnTheCanary() throws {
        let tagged = TestPolicy.decision(allowed: Self.all, tags: ["pii"])
        for index in 0..<2_000 {
            for sticky in [nil, "vpc-b", "vpc-a"] {
                let plan = try Self.router.plan(Self.request("conversation-\(index)", sticky: sticky), decision: tagged)
                #expect(plan.arm == .none)
                #expect(!plan.candidates.contains("vpc-b"))
            }
        }
        #expect(throws: RoutingError.self) { try Self.router.plan(Self.request(requested: "vpc-b"), decision: tagged) }
    }

    @Test func canaryGroupsRestrictEligibility() {
        let eligibility = CanaryEligibility(requireNoTags: true, groups: ["pilot"])
        #expect(eligibility.admits(tags: [], groups: ["staff", "pilot"]))
        #expect(!eligibility.admits(tags: [], groups: ["staff"]))
        #expect(!eligibility.admits(tags: ["pii"], groups: ["pilot"]))
    }
}
