// Strict loading of policy files: exact file:line:column and code for each kind of mistake, merging
// in file-name order, and the shipped baseline in policies/ loading cleanly.
import Foundation
import Testing

@testable import Policy

private let header = "version: 1\n"
private let minimalRules = """
    rules:
      - name: untagged-anywhere
        when: {untagged: true}
        allow: {residency: [on-prem, vpc, external]}

    """

/// Loads one file and returns its issues (empty if it loaded).
private func issues(_ yaml: String, providers: [ProviderDescriptor]? = nil) -> [PolicyIssue] {
    do {
        _ = try PolicySet.parse(files: [("p.yaml", yaml)], providers: providers)
        return []
    } catch {
        return error.issues
    }
}

private func expectIssue(
    _ yaml: String, _ code: PolicyIssue.Code, line: Int, column: Int, providers: [ProviderDescriptor]? = nil,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    let found = issues(yaml, providers: providers)
    #expect(
        found.contains { $0.code == code && $0.line == line && $0.column == column && $0.file == "p.yaml" },
        "expected \(code) at \(line):\(column), got \(found.map(\.description))", sourceLocation: sourceLocation)
    #expect(found.allSatisfy { !$0.hint.isEmpty }, sourceLocation: sourceLocation)
}

@Suite struct PolicyLoaderTests {
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    @Test func shippedBaselineLoads() throws {
        let policy = try PolicySet.load(
            directory: Self.repositoryRoot + "/policies", providers: ProviderDescriptor.baseline)
        #expect(
            policy.files.map { ($0 as NSString).lastPathComponent } == [
                "00-tags.yaml", "10-defaults.yaml", "20-rules.yaml",
            ])
        #expect(Set(policy.tags.keys) == ["phi", "pii", "pci", "confidential", "legal-hold"])
        #expect(policy.sha256.count == 64)
        #expect(policy.defaultTags(user: "x", groups: ["oncology"]) == ["phi"])
    }

    @Test func shippedBaselineTestsPass() throws {
        let root = Self.repositoryRoot + "/policies"
        let policy = try PolicySet.load(directory: root, providers: ProviderDescriptor.baseline)
        let contents = try String(contentsOfFile: root + "/tests/baseline.yaml", encoding: .utf8)
        let cases = try PolicyTestRunner.parse(contents, file: "baseline.yaml")
        #expect(cases.count >= 15)
        for testCase in cases {
            let result = PolicyTestRunner.run(testCase, policy: policy, providers: ProviderDescriptor.baseline)
            #expect(result.passed, "\(testCase.name): \(result.failures)")
        }
    }

    @Test func unknownKeyWithSuggestion() {
        let yaml = header + "tags:\n  phi:\n    detectrs: [uk-nhs]\n" + minimalRules
        expectIssue(yaml, .unknownKey, line: 4, column: 5)
        #expect(issues(yaml).first?.hint == "did you mean 'detectors'?")
    }

    @Test func unknownTopLevelKey() {
        expectIssue(header + "rulez: []\n", .unknownKey, line: 2, column: 1)
    }

    @Test func missingVersionAndWrongVersion() {
        expectIssue("tags: {}\n", .missingKey, line: 1, column: 1)
        expectIssue("version: 2\n", .version, line: 1, column: 10)
    }

    @Test func unknownDetectorInTag() {
        expectIssue(
            header + "tags:\n  phi:\n    detectors: [uk-nhs, nhs-number]\n" + minimalRules, .unknownDetector, line: 4,
            column: 25)
    }

    @Test func unknownTagInRuleAndDefaults() {
        let yaml =
            header
            + "tags:\n  phi: {}\ngroups:\n  oncology:\n    tags: [phy]\nrules:\n  - name: r\n    when:\n      tags: {any: [pii]}\n    allow: {residency: [on-prem]}\n"
        expectIssue(yaml, .unknownTag, line: 6, column: 12)
        expectIssue(yaml, .unknownTag, line: 10, column: 20)
    }

    @Test func unknownProviderOnlyWhenRegistryGiven() {
        let yaml = header + "rules:\n  - name: r\n    when: {groups: [g]}\n    allow: {providers: [gpt-9]}\n"
        #expect(issues(yaml).isEmpty)
        expectIssue(yaml, .unknownProvider, line: 5, column: 25, providers: ProviderDescriptor.baseline)
    }

    @Test func duplicateRuleNameAcrossFiles() throws {
        let a = header + minimalRules
        let b =
            header + "rules:\n  - name: untagged-anywhere\n    when: {groups: [g]}\n    allow: {residency: [on-prem]}\n"
        do {
            _ = try PolicySet.parse(files: [("a.yaml", a), ("b.yaml", b)])
            Issue.record("expected a duplicate-name error")
        } catch {
            #expect(error.issues.map(\.code) == [.duplicateName])
            #expect(error.issues.first.map { "\($0.file):\($0.line):\($0.column)" } == "b.yaml:3:11")
        }
    }

    @Test func duplicateKeyInMapping() {
        expectIssue(header + "tags:\n  phi: {}\ntags:\n  pii: {}\n", .duplicateKey, line: 2, column: 1)
    }

    @Test func contradictingRules() {
        let yaml =
            header
            + "tags:\n  phi: {}\nrules:\n  - name: a\n    when: {tags: {any: [phi]}}\n    allow: {residency: [on-prem]}\n"
            + "  - name: b\n    when: {tags: {any: [phi]}}\n    allow: {residency: [vpc]}\n"
        expectIssue(yaml, .contradiction, line: 8, column: 11)
    }

    @Test func ruleThatCanNeverApply() {
        let yaml =
            header
            + "tags:\n  phi: {}\nrules:\n  - name: a\n    when: {tags: {any: [phi], none: [phi]}}\n    allow: {residency: [on-prem]}\n"
        expectIssue(yaml, .contradiction, line: 5, column: 11)
    }

    @Test func badPatternPointsAtTheColumn() {
        let yaml = header + "detectors:\n  mrn:\n    type: pattern\n    patterns: ['MRN(?=\\d)']\n"
        expectIssue(yaml, .badPattern, line: 5, column: 20)
    }

    @Test func yamlSyntaxErrorHasPosition() {
        let found = issues(header + "tags:\n  phi: [unclosed\n")
        #expect(found.first?.code == .syntax)
        #expect((found.first?.line ?? 0) >= 3)
    }

    @Test func residencyTypoSuggestsTheClass() {
        let yaml = header + "rules:\n  - name: r\n    when: {groups: [g]}\n    allow: {residency: [onprem]}\n"
        expectIssue(yaml, .badValue, line: 5, column: 25)
        #expect(issues(yaml).first?.hint == "did you mean 'on-prem'?")
    }

    @Test func filesMergeInNameOrderRegardlessOfListing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "policy-merge-\(UInt64.random(in: 0...UInt64.max))"
        ).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (header + "tags:\n  phi: {}\n").write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        try (header + minimalRules).write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        try "not: [valid".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        let policy = try PolicySet.load(directory: dir)
        #expect(policy.files == [dir + "/a.yaml", dir + "/b.yaml"])
        let again = try PolicySet.load(directory: dir)
        #expect(again.sha256 == policy.sha256)
    }

    @Test func aRuleWithAnEmptyWhenIsRejected() {
        // Without conditions a rule would apply to every conversation, tagged or not.
        let yaml = header + "rules:\n  - name: everyone\n    allow: {residency: [external]}\n"
        expectIssue(yaml, .badValue, line: 3, column: 11)
        let explicit = header + "rules:\n  - name: everyone\n    when: {}\n    allow: {residency: [external]}\n"
        expectIssue(explicit, .badValue, line: 3, column: 11)
    }

    @Test func theFingerprintCoversNamesRelativeToTheDirectory() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "policy-hash-\(UInt64.random(in: 0...UInt64.max))"
        ).path
        try FileManager.default.createDirectory(atPath: base + "/p", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try (header + minimalRules).write(toFile: base + "/p/a.yaml", atomically: true, encoding: .utf8)
        let plain = try PolicySet.load(directory: base + "/p")
        let typedOtherwise = try PolicySet.load(directory: base + "/./p/")
        #expect(plain.sha256 == typedOtherwise.sha256)
        // The same contents under another name is another policy.
        try FileManager.default.moveItem(atPath: base + "/p/a.yaml", toPath: base + "/p/b.yaml")
        #expect(try PolicySet.load(directory: base + "/p").sha256 != plain.sha256)
    }

    @Test func aMistypedKeyIsTheOnlyError() {
        // `wen` for `when`: the rule's conditions are not what the admin meant, so nothing is derived from them.
        let yaml = header + minimalRules + "  - name: r\n    wen: {groups: [g]}\n    allow: {residency: [vpc]}\n"
        let found = issues(yaml)
        #expect(found.map(\.code) == [.unknownKey], "\(found.map(\.description))")
        #expect(found.first?.hint == "did you mean 'when'?")
    }

    @Test func aTabIsNamedAsATab() {
        let found = issues(header + "tags:\n\tphi: {}\n")
        #expect(found.count == 1)
        #expect(found.first?.code == .syntax)
        #expect(found.first?.message.contains("tab") == true, "\(found.map(\.description))")
        #expect(found.first.map { "\($0.line):\($0.column)" } == "3:1")
    }

    @Test func warningsNameUnusedTagsAndSharedDetectors() throws {
        let yaml =
            header + "tags:\n  a: {detectors: [email]}\n  b: {detectors: [email]}\n  c: {}\n"
            + "rules:\n  - name: r\n    when: {tags: {any: [a, b]}}\n    allow: {residency: [on-prem]}\n"
        let policy = try PolicySet.parse(files: [("p.yaml", yaml)])
        let warnings = policy.warnings
        #expect(warnings.map(\.code).sorted { $0.rawValue < $1.rawValue } == [.sharedDetector, .unusedTag])
        #expect(warnings.contains { $0.code == .unusedTag && $0.message.contains("'c'") && $0.line == 5 })
        #expect(warnings.contains { $0.code == .sharedDetector && $0.message.contains("a, b") })
        // The shipped policy has neither.
        let shipped = try PolicySet.load(directory: Self.repositoryRoot + "/policies")
        #expect(shipped.warnings.isEmpty, "\(shipped.warnings.map(\.warningDescription))")
    }
}
