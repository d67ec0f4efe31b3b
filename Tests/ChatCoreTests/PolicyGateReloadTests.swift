// A running server's policy gate knows the provider registry: a policy edited to name a provider the
// configuration does not declare is refused by `/reload` with that error, and the last good policy
// keeps serving; before, the reload answered OK while every decision failed closed.
import Audit
import ChatCore
import ChatCoreTestSupport
import Foundation
import Policy
import Storage
import Testing

@Suite struct PolicyGateReloadTests {
    static let registry = [
        ProviderDescriptor(name: "local", residency: .onPrem),
        ProviderDescriptor(name: "external-gpt", residency: .external, region: "eu"),
    ]

    static func policy(provider: String) -> String {
        "version: 1\nrules:\n  - name: anyone\n    when: {untagged: true}\n    allow: {providers: [\(provider)]}\n"
    }

    /// A new temporary directory whose `rules.yaml` allows `external-gpt` to anyone.
    static func policyDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try policy(provider: "external-gpt").write(toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
        return directory
    }

    @Test func reloadRefusesARuleNamingAnUndeclaredProvider() async throws {
        let directory = try Self.policyDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/rules.yaml"
        let gate = PolicyDirectoryGate(directory: directory, providers: Self.registry)
        let serving = try #require(await gate.sha256)

        try Self.policy(provider: "external-gtp").write(toFile: file, atomically: true, encoding: .utf8)
        let result = await gate.reload()
        #expect(!result.ok, "the reload was accepted")
        let problems = result.issues.map(\.description).joined(separator: "; ")
        #expect(problems.contains("unknown provider 'external-gtp'"), "\(problems)")
        #expect(problems.contains("rules.yaml:5"), "\(problems)")
        #expect(await gate.sha256 == serving)
        // Without a registry (the old behaviour) the same files load.
        #expect(await PolicyDirectoryGate(directory: directory).sha256 != nil)
    }

    /// `/reload` through ChatCore: a rejected set is `bad-arguments` naming the problem, audited `failed` with
    /// the rejected and serving SHA-256s; a good one is audited `ok` and answered with its SHA-256.
    @Test func chatReloadAuditsBothOutcomes() async throws {
        let directory = try Self.policyDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/rules.yaml"
        let gate = PolicyDirectoryGate(directory: directory, providers: Self.registry)
        let serving = try #require(await gate.sha256)
        let backends = try await TestBackends(users: [
            UserRecord(name: "root", role: .admin, groups: [], passwordHash: "test:root-password")
        ])
        let core = ChatCore(
            store: backends.store, passwords: TestPasswords(), policy: gate, gateway: TestProvider.echo().gateway,
            audit: backends.audit, configuration: ChatCore.Configuration())
        let root = try await core.login(name: "root", password: "root-password", origin: "test")

        try Self.policy(provider: "external-gtp").write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try await core.reload(as: root, origin: "test")
            Issue.record("the reload was accepted")
        } catch {
            #expect(error.code == .badArguments)
            #expect(error.text.contains("unknown provider 'external-gtp'"), "\(error.text)")
        }
        try Self.policy(provider: "local").write(toFile: file, atomically: true, encoding: .utf8)
        let accepted = try await core.reload(as: root, origin: "test")
        let reloads = try backends.events().filter { $0.action == "policy.reload" }
        #expect(reloads.map(\.outcome) == ["failed", "ok"])
        #expect(reloads.first?.subject.contains("serving=\(serving)") == true, "\(reloads.first?.subject ?? "")")
        let loaded = try #require(await gate.sha256)
        #expect(loaded != serving && accepted.ok == "policy=\(loaded)" && reloads.last?.subject == loaded)
    }
}
