// evaluate(): rule combination, the external guard for tagged conversations, sticky tags across a
// conversation, and every fail-closed path (no policy, detector error, unknown provider, no rule).
import Testing

@testable import Policy

private let providers = ProviderDescriptor.baseline

private func policy(_ rules: String, tags: String = "  phi: {}\n  pci: {}\n  misc: {}\n") throws -> PolicySet {
    try PolicySet.parse(files: [("p.yaml", "version: 1\ntags:\n\(tags)rules:\n\(rules)")])
}

private let baselineRules = """
      - name: untagged-anywhere
        when: {untagged: true}
        allow: {residency: [on-prem, vpc, external]}
      - name: phi-on-prem
        when: {tags: {any: [phi]}}
        allow: {residency: [on-prem]}
      - name: pci-vpc
        when: {tags: {any: [pci]}}
        allow: {residency: [on-prem, vpc]}

    """

private func request(_ tags: Set<String>, provider: String? = "external-gpt", user: String = "u", groups: [String] = [])
    -> DecisionRequest
{
    DecisionRequest(tags: tags, user: user, groups: groups, requestedProvider: provider, providers: providers)
}

@Suite struct DecisionTests {
    @Test func untaggedMayGoAnywhere() throws {
        let decision = evaluate(try policy(baselineRules), request([]))
        #expect(decision.allowed == ["local", "vpc-llm", "external-gpt"])
        #expect(decision.rule == "untagged-anywhere")
        #expect(!decision.failedClosed)
    }

    @Test func taggedIsRefusedExternalWithRuleAndReason() throws {
        let decision = evaluate(try policy(baselineRules), request(["phi"]))
        #expect(decision.allowed == ["local"])
        #expect(decision.denied == ["vpc-llm": "phi-on-prem", "external-gpt": "phi-on-prem"])
        #expect(decision.rule == "phi-on-prem")
        #expect(decision.reason.contains("phi"))
        #expect(decision.reason.contains("external-gpt"))
    }

    @Test func severalTagsIntersect() throws {
        let decision = evaluate(try policy(baselineRules), request(["phi", "pci"], provider: "vpc-llm"))
        #expect(decision.allowed == ["local"])
        #expect(decision.rule == "phi-on-prem")
    }

    /// A tag no rule names allows on-prem only, even if a general rule would allow external.
    @Test func ungovernedTagNeverReachesExternal() throws {
        // A general rule for this user (an empty `when` is rejected at load, so it names the user).
        let rules =
            baselineRules
            + "  - name: everyone-anywhere\n    when: {users: [u]}\n    allow: {residency: [on-prem, vpc, external]}\n"
        let decision = evaluate(try policy(rules), request(["misc"]))
        #expect(decision.allowed == ["local"])
        #expect(decision.rule == FailClosedRule.ungovernedTag)
        #expect(decision.failedClosed)
    }

    @Test func onlyARuleNamingTheTagCanAllowExternal() throws {
        let rules =
            baselineRules
            + "  - name: misc-external\n    when: {tags: {any: [misc]}}\n    allow: {residency: [on-prem, external]}\n"
        let p = try policy(rules)
        #expect(evaluate(p, request(["misc"])).allows("external-gpt"))
        #expect(!evaluate(p, request(["misc", "phi"])).allows("external-gpt"))
    }

    @Test func higherPriorityExceptionWinsForItsGroupOnly() throws {
        let rules =
            baselineRules
            + "  - name: research-phi\n    priority: 5\n    when: {tags: {any: [phi]}, groups: [research]}\n    allow: {residency: [on-prem, vpc]}\n"
        let p = try policy(rules)
        #expect(evaluate(p, request(["phi"], provider: "vpc-llm", groups: ["research"])).rule == "research-phi")
        #expect(evaluate(p, request(["phi"], provider: "vpc-llm", groups: ["research"])).allows("vpc-llm"))
        #expect(!evaluate(p, request(["phi"], provider: "vpc-llm", groups: ["research"])).allows("external-gpt"))
        #expect(!evaluate(p, request(["phi"], provider: "vpc-llm", groups: ["finance"])).allows("vpc-llm"))
    }

    @Test func regionsAndNamedProviders() throws {
        let rules =
            "  - name: eu-only\n    when: {untagged: true}\n    allow: {residency: [on-prem, external], regions: [eu-west]}\n"
        let extra = providers + [ProviderDescriptor(name: "us-gpt", residency: .external, region: "us-east")]
        let p = try policy(rules)
        let decision = evaluate(p, DecisionRequest(tags: [], user: "u", providers: extra))
        #expect(decision.allowed == ["local", "external-gpt"])
        let named = try policy("  - name: named\n    when: {untagged: true}\n    allow: {providers: [vpc-llm]}\n")
        #expect(evaluate(named, DecisionRequest(tags: [], user: "u", providers: providers)).allowed == ["vpc-llm"])
    }

    @Test func noPolicyFailsClosed() {
        let decision = evaluate(nil, request([]))
        #expect(decision.allowed == ["local"])
        #expect(decision.rule == FailClosedRule.noPolicy)
        #expect(decision.failedClosed)
        #expect(decision.reason.contains("no valid policy"))
    }

    @Test func detectorErrorFailsClosed() throws {
        var r = request([])
        r.detectionFailed = true
        let decision = evaluate(try policy(baselineRules), r)
        #expect(decision.allowed == ["local"])
        #expect(decision.rule == FailClosedRule.detectorError)
    }

    @Test func unknownProviderFailsClosed() throws {
        let decision = evaluate(try policy(baselineRules), request([], provider: "gpt-next"))
        #expect(decision.allowed == ["local"])
        #expect(decision.rule == FailClosedRule.unknownProvider)
        #expect(decision.reason.contains("gpt-next"))
    }

    @Test func noMatchingRuleFailsClosed() throws {
        let p = try policy("  - name: phi-on-prem\n    when: {tags: {any: [phi]}}\n    allow: {residency: [on-prem]}\n")
        let decision = evaluate(p, request([]))
        #expect(decision.allowed == ["local"])
        #expect(decision.rule == FailClosedRule.noMatchingRule)
    }

    /// A detector that throws (here: a message over the size limit) leads to a fail-closed decision.
    @Test func throwingDetectorLeadsToFailClosed() throws {
        let p = try policy(baselineRules, tags: "  phi:\n    detectors: [uk-nhs]\n  pci: {}\n  misc: {}\n")
        let huge = String(repeating: "x", count: DetectorSuite.maxBytes + 1)
        var failed = false
        do { _ = try p.detect(huge) } catch { failed = true }
        #expect(failed)
        var r = request([])
        r.detectionFailed = failed
        #expect(evaluate(p, r).allowed == ["local"])
    }

    /// Stickiness: a conversation tagged at message k stays tagged, and refused external, for every
    /// later message, including after a "restart" (tags re-read from storage and re-evaluated).
    @Test func tagsAreStickyAcrossTheConversation() throws {
        let p = try policy(baselineRules, tags: "  phi:\n    detectors: [uk-nhs]\n  pci: {}\n  misc: {}\n")
        let messages = ["hello", "what is 2+2", "NHS number 943 476 5919 has chest pain", "thanks", "ok", "bye"]
        var tags: Set<String> = []
        var stored: [Set<String>] = []
        for (k, message) in messages.enumerated() {
            tags = ConversationTags.accumulate(
                existing: tags, detection: try p.detect(message), policy: p, user: "u", groups: [])
            stored.append(tags)
            let allowed = evaluate(p, request(tags)).allows("external-gpt")
            #expect(allowed == (k < 2), "message \(k)")
        }
        // After a restart the server reloads the stored tags; the decision is the same.
        let reloaded = try policy(baselineRules, tags: "  phi:\n    detectors: [uk-nhs]\n  pci: {}\n  misc: {}\n")
        #expect(!evaluate(reloaded, request(stored.last!)).allows("external-gpt"))
        #expect(stored.indices.allSatisfy { $0 == 0 || stored[$0 - 1].isSubset(of: stored[$0]) })
    }

    @Test func decisionsNeverCarryText() throws {
        let p = try policy(baselineRules, tags: "  phi:\n    detectors: [uk-nhs]\n  pci: {}\n  misc: {}\n")
        let detection = try p.detect("NHS number 943 476 5919")
        var r = request(detection.tags)
        r.detectorCounts = detection.countsByDetector
        let decision = evaluate(p, r)
        #expect(decision.detectorCounts == ["uk-nhs": 1])
        #expect(!"\(decision)".contains("943"))
    }
}
