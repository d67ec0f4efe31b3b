// Fail closed while serving: a policy file corrupted or deleted on disk, no valid policy at all, or a
// rule naming a provider the registry does not know each restrict decisions to on-prem providers
// under `fail-closed:policy-invalid`, with a reason that names no file (staff see it); a later valid load lifts
// it. The audit subject of a rejection names the rejected set by a SHA-256 that `sha256sum` (an
// independent implementation) computes over the same bytes.
import Foundation
import Testing

@testable import Policy

@Suite struct ServingDecisionTests {
    static let tags = """
        version: 1
        tags:
          phi:
            detectors: [uk-nhs]

        """
    static let rules = """
        version: 1
        rules:
          - name: untagged-anywhere
            when: {untagged: true}
            allow: {residency: [on-prem, vpc, external]}
          - name: phi-on-prem
            when: {tags: {any: [phi]}}
            allow: {residency: [on-prem]}

        """

    static func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("policy-serving-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try tags.write(toFile: dir + "/00-tags.yaml", atomically: true, encoding: .utf8)
        try rules.write(toFile: dir + "/20-rules.yaml", atomically: true, encoding: .utf8)
        return dir
    }

    static func decide(_ store: PolicyStore, tags: Set<String> = []) async -> Decision {
        await store.decide(
            DecisionRequest(
                tags: tags, user: "u", requestedProvider: "external-gpt", providers: ProviderDescriptor.baseline))
    }

    /// `sha256sum` over the bytes the loader hashes: for each file in order, path NUL contents NUL.
    static func sha256sum(_ files: [(String, String)]) throws -> String {
        var bytes = Data()
        for (name, contents) in files { bytes += Data(name.utf8) + [0] + Data(contents.utf8) + [0] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(bytes)
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }

    @Test func aCorruptedFileRestrictsToOnPremUntilFixed() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = PolicyStore(loading: dir)
        #expect(await Self.decide(store).allows("external-gpt"))

        let broken = "version: 1\nrules:\n  - name: [unclosed\n"
        try broken.write(toFile: dir + "/20-rules.yaml", atomically: true, encoding: .utf8)
        let rejected = await store.reload()
        #expect(!rejected.ok)
        let decision = await Self.decide(store)
        #expect(!decision.allows("external-gpt"))
        #expect(!decision.allows("vpc-llm"))
        #expect(decision.allows("local"))
        #expect(decision.rule == FailClosedRule.policyInvalid)
        #expect(decision.denied["external-gpt"] == FailClosedRule.policyInvalid)
        #expect(decision.failedClosed)
        let line = try #require(rejected.issues.first?.line)
        #expect(line > 0)
        // Staff see the reason in `ERR policy-blocked`: no policy file or line in it (admins have the audit subject).
        #expect(!decision.reason.contains("20-rules.yaml"), "\(decision.reason)")
        // The rejected set is named by its own SHA-256, and the serving one is still the last good.
        let expected = try Self.sha256sum([("00-tags.yaml", Self.tags), ("20-rules.yaml", broken)])
        #expect(rejected.candidateSHA256 == expected)
        #expect(rejected.auditSubject.hasPrefix("\(expected) serving=\(rejected.sha256 ?? "?") error=20-rules.yaml:"))
        // PHI stays on-prem under the last good policy's own rule too.
        #expect(await Self.decide(store, tags: ["phi"]).allowed == ["local"])

        try Self.rules.write(toFile: dir + "/20-rules.yaml", atomically: true, encoding: .utf8)
        let fixed = await store.reload()
        #expect(fixed.ok)
        #expect(fixed.auditSubject == fixed.sha256)
        let after = await Self.decide(store)
        #expect(after.allows("external-gpt"))
        #expect(after.rule == "untagged-anywhere")
    }

    @Test func aDeletedFileOfTheServingSetIsRejected() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = PolicyStore(loading: dir)
        try FileManager.default.removeItem(atPath: dir + "/00-tags.yaml")
        #expect(!(await store.reload()).ok)
        let decision = await Self.decide(store)
        #expect(!decision.allows("external-gpt"))
        #expect(decision.rule == FailClosedRule.policyInvalid)

        // Deleting a file whose absence still loads (here: the tags, with the rules left valid) is
        // rejected as a removal, not served as a smaller policy.
        try Self.tags.write(toFile: dir + "/00-tags.yaml", atomically: true, encoding: .utf8)
        #expect(await store.reload().ok)
        let split = "version: 1\n"
        try split.write(toFile: dir + "/30-extra.yaml", atomically: true, encoding: .utf8)
        #expect(await store.reload().ok)
        try FileManager.default.removeItem(atPath: dir + "/30-extra.yaml")
        let removed = await store.reload()
        #expect(!removed.ok)
        #expect(removed.issues.first?.message == "policy file removed while serving")
        let restricted = await Self.decide(store)
        #expect(removed.auditSubject.contains("30-extra.yaml:0"), "\(removed.auditSubject)")
        #expect(!restricted.reason.contains("30-extra.yaml"), "\(restricted.reason)")
        #expect(!restricted.allows("external-gpt"))
    }

    @Test func noValidPolicyAtAllIsOnPremOnly() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "version: 2\n".write(toFile: dir + "/20-rules.yaml", atomically: true, encoding: .utf8)
        let store = PolicyStore(loading: dir)
        #expect(await store.current == nil)
        #expect(await store.lastResult?.ok == false)
        let decision = await Self.decide(store)
        #expect(decision.allowed == ["local"])
        #expect(decision.rule == FailClosedRule.policyInvalid)
        #expect(!decision.reason.contains("20-rules.yaml"), "\(decision.reason)")
    }

    @Test func aRuleNamingAnUnknownProviderFailsClosed() throws {
        let files = [
            ("a.yaml", Self.tags),
            (
                "b.yaml",
                "version: 1\nrules:\n  - name: gpt-for-all\n    when: {untagged: true}\n"
                    + "    allow: {providers: [external-gtp]}\n"
            ),
        ]
        let policy = try PolicySet.parse(files: files.map { (name: $0.0, contents: $0.1) })
        let request = DecisionRequest(
            tags: [], user: "u", requestedProvider: "external-gpt", providers: ProviderDescriptor.baseline)
        let decision = evaluate(policy, request, loadFailure: nil)
        #expect(!decision.allows("external-gpt"))
        #expect(decision.rule == FailClosedRule.policyInvalid)
        #expect(!decision.reason.contains("b.yaml"), "\(decision.reason)")
    }
}
