// ChatCore over the real Router (through ProviderGateway), the shipped policies in `policies/`, the
// real local model, and an in-process recording provider registered as `external-gpt`: once a
// conversation carries a card number it never reaches the external provider again, not even by
// `/model external-gpt`, while an untagged conversation may.
import Audit
import ChatCore
import ChatCoreTestSupport
import Foundation
import Inference
import Policy
import Routing
import Storage
import Synchronization
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
private let modelPath = repositoryRoot + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"

/// The stand-in external API: counts the requests that reached it and answers with fixed text.
final class RecordingExternalProvider: ChatProvider {
    let info = ProviderInfo(name: "external-gpt", residency: .external, region: "eu-west-1", model: "gpt-test")
    let requests = Mutex(0)

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        requests.withLock { $0 += 1 }
        return AsyncThrowingStream { continuation in
            continuation.yield(.text("fine"))
            continuation.yield(.usage(tokensIn: 5, tokensOut: 1))
            continuation.finish()
        }
    }

    func health() async -> Bool { true }
}

@Suite(.enabled(if: FileManager.default.fileExists(atPath: modelPath)))
struct ProviderGatewayTests {
    @Test func aCardNumberKeepsTheConversationOffTheExternalProviderForGood() async throws {
        let engine = try InferenceEngine(modelPath: modelPath, contextLength: 512, threads: 2)
        let external = RecordingExternalProvider()
        let gateway = ProviderGateway(
            providers: [LocalProvider(engine: engine), external], defaultProvider: "local",
            systemPrompt: "Answer briefly.", promptVersion: "assistant.v1")
        var configuration = ChatCore.Configuration()
        configuration.maxTokens = 3
        let backends = try await TestBackends(users: [
            UserRecord(name: "alice", role: .staff, groups: [], passwordHash: "test:alice-password")
        ])
        let core = ChatCore(
            store: backends.store, passwords: TestPasswords(),
            policy: PolicyDirectoryGate(directory: repositoryRoot + "/policies"), gateway: gateway,
            audit: backends.audit, configuration: configuration)
        let alice = try await core.login(name: "alice", password: "alice-password", origin: "test")

        // Untagged: the user's `/model external-gpt` choice is honoured, and sticks.
        let first = try await core.send(
            "Suggest a name for a cat.", conversation: nil, requestedModel: "external-gpt", as: alice, origin: "test",
            emit: { _ in })
        #expect(first.provider == "external-gpt")
        #expect(external.requests.withLock { $0 } == 1)

        // A card number tags the conversation `pci`: the sticky external provider is no longer allowed.
        let second = try await core.send(
            "My card is 4111 1111 1111 1111.", conversation: first.conversation, requestedModel: nil, as: alice,
            origin: "test", emit: { _ in })
        #expect(second.provider == "local")

        // An explicit choice is refused, naming the rule and the tags, and nothing is sent.
        do {
            _ = try await core.send(
                "And now?", conversation: first.conversation, requestedModel: "external-gpt", as: alice,
                origin: "test", emit: { _ in })
            Issue.record("the external provider was allowed for a pci conversation")
        } catch {
            #expect(error.code == .policyBlocked)
            #expect(error.text.contains("rule=pci-on-prem-only"))
            #expect(error.text.contains("pci"))
        }
        #expect(external.requests.withLock { $0 } == 1)

        // A fresh untagged conversation may still use it.
        let other = try await core.send(
            "Suggest a name for a dog.", conversation: nil, requestedModel: "external-gpt", as: alice, origin: "test",
            emit: { _ in })
        #expect(other.provider == "external-gpt")
        #expect(external.requests.withLock { $0 } == 2)
    }
}
