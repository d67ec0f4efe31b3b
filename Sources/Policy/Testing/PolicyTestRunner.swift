// `enclave policy test`: YAML test cases for a policy set, in the spirit of `opa test`. Each case
// gives a user, groups, messages and/or tags and a requested provider, and expects the provider to
// be allowed or denied, optionally by a named rule and with exactly the expected tags.
//
//   version: 1
//   cases:
//     - name: an NHS number keeps the conversation on-prem
//       user: dr.patel
//       groups: [cardiology]
//       messages: ["NHS number 943 476 5919, chest pain"]
//       provider: external-gpt
//       expect: denied
//       rule: phi-on-prem-only
//       expect-tags: [phi]
import Yams

/// One test case.
public struct PolicyTestCase: Sendable {
    public var name: String
    public var user: String
    public var groups: [String]
    /// Messages of the conversation, in order; their findings accumulate (sticky tags).
    public var messages: [String]
    /// Tags the conversation already has (e.g. from `/tag`).
    public var tags: Set<String>
    public var provider: String
    public var expectAllowed: Bool
    public var expectRule: String?
    public var expectTags: Set<String>?
    public var location: SourcePosition
}

/// The result of one case.
public struct PolicyTestResult: Sendable {
    public var testCase: PolicyTestCase
    public var passed: Bool
    /// Why it failed (empty when it passed). Never contains message text.
    public var failures: [String]
    public var decision: Decision
}

public enum PolicyTestRunner {
    /// Parses a test file.
    public static func parse(_ contents: String, file: String) throws(PolicyError) -> [PolicyTestCase] {
        var reader = NodeReader(file: file)
        let root = try PolicyFileParser.compose(contents, file: file)
        guard let root,
            let top = reader.mapping(root, allowed: ["version", "description", "cases"], what: "a policy test file")
        else {
            if root == nil { reader.report(nil, .missingKey, "empty test file", hint: "add `version: 1` and `cases:`") }
            throw PolicyError.load(reader.issues)
        }
        if let v = top["version"], let value = reader.int(v, what: "version", range: 0...1000),
            value != policySchemaVersion
        {
            reader.report(v.mark, .version, "schema version \(value) is not supported", hint: "use `version: 1`")
        }
        var cases: [PolicyTestCase] = []
        let keys = ["name", "user", "groups", "messages", "tags", "provider", "expect", "rule", "expect-tags"]
        for item in top["cases"].map({ reader.list($0, what: "cases") }) ?? [] {
            guard let f = reader.mapping(item, allowed: keys, what: "a test case") else { continue }
            let location = SourcePosition(file: file, line: item.mark?.line ?? 0, column: item.mark?.column ?? 0)
            let name = f["name"].flatMap { reader.string($0, what: "name") } ?? "case at line \(location.line)"
            guard let providerNode = f["provider"], let provider = reader.string(providerNode, what: "provider"),
                let expectNode = f["expect"], let expect = reader.string(expectNode, what: "expect")
            else {
                reader.report(
                    item.mark, .missingKey, "case '\(name)' needs `provider` and `expect`",
                    hint: "add `provider: external-gpt` and `expect: denied`")
                continue
            }
            guard expect == "allowed" || expect == "denied" else {
                reader.report(
                    expectNode.mark, .badValue, "`expect` must be allowed or denied", hint: "write `expect: denied`")
                continue
            }
            cases.append(
                PolicyTestCase(
                    name: name, user: f["user"].flatMap { reader.string($0, what: "user") } ?? "test-user",
                    groups: f["groups"].map { reader.stringList($0, what: "groups").map(\.text) } ?? [],
                    messages: f["messages"].map { reader.stringList($0, what: "messages").map(\.text) } ?? [],
                    tags: Set(f["tags"].map { reader.identifierList($0, what: "tags").map(\.name) } ?? []),
                    provider: provider, expectAllowed: expect == "allowed",
                    expectRule: f["rule"].flatMap { reader.string($0, what: "rule") },
                    expectTags: f["expect-tags"].map {
                        Set(reader.identifierList($0, what: "expect-tags").map(\.name))
                    },
                    location: location))
        }
        guard reader.issues.isEmpty else { throw PolicyError.load(reader.issues) }
        return cases
    }

    /// Runs one case: detection over each message in turn (tags accumulate), then the decision.
    public static func run(_ testCase: PolicyTestCase, policy: PolicySet, providers: [ProviderDescriptor])
        -> PolicyTestResult
    {
        var tags = ConversationTags.accumulate(
            existing: testCase.tags, detection: nil, policy: policy, user: testCase.user, groups: testCase.groups)
        var counts: [String: Int] = [:]
        var failed = false
        for message in testCase.messages {
            do throws(PolicyError) {
                let detection = try policy.detect(message)
                tags = ConversationTags.accumulate(
                    existing: tags, detection: detection, policy: policy, user: testCase.user, groups: testCase.groups)
                counts.merge(detection.countsByDetector, uniquingKeysWith: +)
            } catch {
                failed = true
            }
        }
        let decision = evaluate(
            policy,
            DecisionRequest(
                tags: tags, user: testCase.user, groups: testCase.groups, requestedProvider: testCase.provider,
                providers: providers, detectorCounts: counts, detectionFailed: failed))
        var failures: [String] = []
        let allowed = decision.allows(testCase.provider)
        if allowed != testCase.expectAllowed {
            failures.append(
                "expected '\(testCase.provider)' \(testCase.expectAllowed ? "allowed" : "denied"), got "
                    + "\(allowed ? "allowed" : "denied") by rule '\(decision.rule)'")
        }
        if let rule = testCase.expectRule, rule != decision.rule {
            failures.append("expected rule '\(rule)', got '\(decision.rule)'")
        }
        if let expected = testCase.expectTags, expected != tags {
            failures.append(
                "expected tags [\(expected.sorted().joined(separator: ", "))], got [\(tags.sorted().joined(separator: ", "))]"
            )
        }
        return PolicyTestResult(testCase: testCase, passed: failures.isEmpty, failures: failures, decision: decision)
    }
}
