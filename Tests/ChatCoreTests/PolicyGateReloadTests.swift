// A running server's policy gate knows the provider registry: a policy edited to name a provider the
// configuration does not declare is refused by `/reload` with that error, and the last good policy
// keeps serving; before, the reload answered OK while every decision failed closed.
import ChatCore
import Foundation
import Policy
import Testing

@Suite struct PolicyGateReloadTests {
    static let registry = [
        ProviderDescriptor(name: "local", residency: .onPrem),
        ProviderDescriptor(name: "external-gpt", residency: .external, region: "eu"),
    ]

    static func policy(provider: String) -> String {
        "version: 1\nrules:\n  - name: anyone\n    when: {untagged: true}\n    allow: {providers: [\(provider)]}\n"
    }

    @Test func reloadRefusesARuleNamingAnUndeclaredProvider() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/rules.yaml"
        try Self.policy(provider: "external-gpt").write(toFile: file, atomically: true, encoding: .utf8)
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
}
