// Retention rules in policy files: what loads (tags and groups, days), which rule decides (the longest
// matching period), and the strict loader's errors with file:line:column for each kind of mistake.
import Foundation
import Testing

@testable import Policy

@Suite("Retention rules")
struct RetentionPolicyTests {
    static let tags = "version: 1\ntags:\n  pci: {}\n  phi: {}\n"

    static func load(_ text: String) throws(PolicyError) -> PolicySet {
        try PolicySet.parse(files: [("r.yaml", text)])
    }

    static func problems(_ text: String) -> [PolicyIssue] {
        do {
            _ = try load(text)
            return []
        } catch {
            return error.issues
        }
    }

    @Test("rules load with their conditions; the longest matching period decides; no match keeps")
    func rulesDecide() throws {
        let policy = try Self.load(
            Self.tags + """
                retention:
                  - name: pci-short
                    description: card data
                    when: {tags: [pci]}
                    days: 30
                  - name: research-long
                    when: {groups: [research]}
                    days: 400
                  - name: phi-in-oncology
                    when: {tags: [phi], groups: [oncology]}
                    days: 3650
                """)
        #expect(policy.retention.map(\.name) == ["pci-short", "research-long", "phi-in-oncology"])
        #expect(policy.retention[0].location.line == 6)
        #expect(policy.retentionRule(tags: ["pci"], groups: [])?.name == "pci-short")
        #expect(policy.retentionRule(tags: ["pci"], groups: ["research"])?.name == "research-long")
        #expect(policy.retentionRule(tags: ["phi"], groups: ["research"])?.name == "research-long")
        #expect(policy.retentionRule(tags: ["phi", "pci"], groups: ["oncology"])?.days == 3650)
        #expect(policy.retentionRule(tags: ["phi"], groups: []) == nil)
        #expect(policy.retentionRule(tags: [], groups: []) == nil)
    }

    @Test("a rule without `when` applies to every conversation")
    func defaultRule() throws {
        let policy = try Self.load(Self.tags + "retention:\n  - name: everything\n    days: 2192\n")
        #expect(policy.retentionRule(tags: [], groups: [])?.name == "everything")
        #expect(policy.retentionRule(tags: ["phi"], groups: ["x"])?.days == 2192)
    }

    @Test("mistakes are reported with file:line:column and a stable code")
    func strictErrors() {
        let cases: [(String, PolicyIssue.Code, Int, Int)] = [
            ("retention:\n  - name: a\n    days: 0\n", .badValue, 7, 11),
            ("retention:\n  - name: a\n    days: 40000\n", .badValue, 7, 11),
            ("retention:\n  - name: a\n    days: soon\n", .badValue, 7, 11),
            ("retention:\n  - name: a\n    when: {tags: [pcii]}\n    days: 3\n", .unknownTag, 7, 19),
            ("retention:\n  - name: a\n    dayz: 3\n", .unknownKey, 7, 5),
            ("retention:\n  - name: a\n    when: {users: [bob]}\n    days: 3\n", .unknownKey, 7, 12),
            ("retention:\n  - days: 3\n", .missingKey, 6, 5),
            ("retention:\n  - name: a\n    when: {tags: [pci]}\n", .missingKey, 6, 5),
            ("retention:\n  - name: a\n    days: 3\n  - name: a\n    days: 4\n", .duplicateName, 8, 11),
            ("retention: {a: 3}\n", .wrongType, 5, 12),
        ]
        for (body, code, line, column) in cases {
            let found = Self.problems(Self.tags + body)
            #expect(
                found.contains { $0.code == code && $0.line == line && $0.column == column && $0.file == "r.yaml" },
                "\(body): expected \(code) at \(line):\(column), got \(found.map(\.description))")
        }
    }
}
