// The registry built from configuration text: HTTP providers come up from their entries, local ones
// through the caller's factory, and `/models` shows residency and, per decision, the forbidding rule.
import EnclaveConfiguration
import EnclaveTestSupport
import Inference
import Policy
import Testing

@testable import Routing

/// A provider that never answers; it stands for a local engine in registry tests only.
private struct SilentProvider: ChatProvider {
    let info: ProviderInfo
    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        AsyncThrowingStream { $0.finish() }
    }
    func health() async -> Bool { true }
}

@Suite struct ProviderRegistryTests {
    static func configuration(vpcURL: String, externalURL: String) throws -> RoutingConfiguration {
        try RoutingConfiguration.parse(
            """
            providers:
              - {name: local, kind: local, residency: on-prem, model_path: models/m.gguf, context_length: 2048}
              - {name: vpc-a, kind: openai, residency: vpc, region: on-site, base_url: "\(vpcURL)", model: v}
              - {name: external-gpt, kind: openai, residency: external, base_url: "\(externalURL)", model: g}
            routing:
              default: local
              prompts: {default: assistant.v1}
            """, file: "registry.yaml")
    }

    @Test func buildsProvidersAndListsThemPerDecision() async throws {
        let server = try await RecordingServer.start()
        let configuration = try Self.configuration(vpcURL: server.baseURL, externalURL: server.baseURL)
        var localEntries: [String] = []
        let registry = try await ProviderRegistry(configuration: configuration) { entry in
            localEntries.append(entry.model)
            return SilentProvider(info: ProviderInfo(name: entry.name, residency: entry.residency, model: entry.model))
        }
        #expect(localEntries == ["models/m.gguf"])
        #expect(registry.providers.map(\.info.name) == ["local", "vpc-a", "external-gpt"])
        #expect(registry.provider(named: "vpc-a") is OpenAIProvider)
        #expect(await registry.unhealthy().isEmpty)
        await registry.shutdown()
        try await server.stop()
    }

    @Test func aBadHTTPProviderIsAPositionedError() async throws {
        let configuration = try RoutingConfiguration.parse(
            """
            providers:
              - name: local
                kind: local
                residency: on-prem
                model_path: m.gguf
              - name: external-gpt
                kind: openai
                residency: external
                base_url: https://api.example.com/v1
                model: g
                api_key_env: ENCLAVE_REGISTRY_TEST_UNSET_KEY
            routing: {default: local, prompts: {default: assistant.v1}}
            """, file: "registry.yaml")
        do {
            _ = try await ProviderRegistry(configuration: configuration) { entry in
                SilentProvider(info: ProviderInfo(name: entry.name, residency: entry.residency, model: entry.model))
            }
            Issue.record("a provider without its key was built")
        } catch let error as ConfigurationError {
            #expect(error.file == "registry.yaml" && error.line == 6 && error.column == 5)
            #expect(error.message.contains("ENCLAVE_REGISTRY_TEST_UNSET_KEY"))
        }
    }
}
