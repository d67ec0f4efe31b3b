// PolicyStore: the last good policy keeps serving when a reload fails (and, in fail-closed mode, no
// policy serves); file changes are noticed; a corrupted or deleted file never opens external
// providers.
import Foundation
import Testing

@testable import Policy

@Suite struct PolicyStoreTests {
    static let good = """
        version: 1
        tags:
          phi:
            detectors: [uk-nhs]
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
            .appendingPathComponent("policy-store-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try good.write(toFile: dir + "/policy.yaml", atomically: true, encoding: .utf8)
        return dir
    }

    static func externalAllowed(_ store: PolicyStore, tags: Set<String>) async -> Bool {
        let policy = await store.current
        return evaluate(
            policy,
            DecisionRequest(
                tags: tags, user: "u", requestedProvider: "external-gpt", providers: ProviderDescriptor.baseline)
        ).allows("external-gpt")
    }

    @Test func keepsLastGoodPolicyWhenReloadFails() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = PolicyStore(directory: dir)
        #expect(await store.current == nil)
        #expect(await !Self.externalAllowed(store, tags: []))
        let first = await store.reload()
        #expect(first.ok)
        #expect(first.sha256 != nil)
        #expect(await Self.externalAllowed(store, tags: []))

        try "version: 1\nrules: [unclosed\n".write(toFile: dir + "/policy.yaml", atomically: true, encoding: .utf8)
        #expect(await store.filesChanged())
        let second = await store.reload()
        #expect(!second.ok)
        #expect(second.sha256 == first.sha256)
        #expect(second.issues.first?.code == .syntax)
        #expect(await store.sha256 == first.sha256)
        #expect(await !Self.externalAllowed(store, tags: ["phi"]))
    }

    @Test func failClosedModeDropsThePolicyOnAnyError() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = PolicyStore(directory: dir, onInvalid: .failClosed)
        #expect(await store.reload().ok)
        try FileManager.default.removeItem(atPath: dir + "/policy.yaml")
        let result = await store.reload()
        #expect(!result.ok)
        #expect(result.issues.first?.code == .noFiles)
        #expect(await store.current == nil)
        #expect(await !Self.externalAllowed(store, tags: []))
    }

    @Test func runReloadsOnFileChangeAndStopsWhenCancelled() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = PolicyStore(directory: dir)
        await store.reload()
        let (results, continuation) = AsyncStream.makeStream(of: PolicyLoadResult.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await store.run(interval: .milliseconds(20)) { continuation.yield($0) }
            }
            try (Self.good + "# edited\n").write(toFile: dir + "/policy.yaml", atomically: true, encoding: .utf8)
            var iterator = results.makeAsyncIterator()
            let result = await iterator.next()
            #expect(result?.ok == true)
            #expect(result?.sha256 != result?.previousSHA256)
            group.cancelAll()
        }
    }
}
