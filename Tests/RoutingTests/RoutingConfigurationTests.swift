// The routing configuration reader: the shipped default loads, and every kind of mistake is refused
// with the file:line:column of the offending node (positions counted by hand in the inline YAML).
import EnclaveConfiguration
import Foundation
import Policy
import Testing

@testable import Routing

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

@Suite struct RoutingConfigurationTests {
    static let valid = """
        server: {listen: "127.0.0.1:7878"}
        providers:
          - name: local
            kind: local
            residency: on-prem
            model_path: models/m.gguf
          - name: vpc-llama
            kind: openai
            residency: vpc
            base_url: http://10.0.0.5:8000/v1
            model: llama
            timeouts: {connect_ms: 100, read_ms: 200}
            retries: 1
          - name: external-gpt
            kind: openai
            residency: external
            region: eu-west-1
            base_url: https://api.example.com/v1
            model: gpt
            api_key_env: SOME_KEY
            price: {input_per_million: 0.15, output_per_million: 0.6}
        routing:
          default: local
          canary: {provider: vpc-llama, percent: 0}
          prompts: {default: assistant.v1, providers: {external-gpt: assistant.v2}}
        """

    @Test func theShippedConfigurationLoads() throws {
        let configuration = try RoutingConfiguration.load(path: repositoryRoot + "/deploy/enclave.yaml")
        #expect(configuration.defaultProvider == "local")
        #expect(configuration.providers.first?.residency == .onPrem)
        #expect(configuration.prompts.defaultPrompt == PromptReference(name: "assistant", version: 1))
    }

    @Test func readsEveryField() throws {
        let configuration = try RoutingConfiguration.parse(Self.valid, file: "enclave.yaml")
        #expect(configuration.providers.map(\.name) == ["local", "vpc-llama", "external-gpt"])
        let external = configuration.providers[2]
        #expect(external.residency == .external)
        #expect(external.region == "eu-west-1")
        #expect(external.pricing == Pricing(inputPerMillion: 0.15, outputPerMillion: 0.6))
        #expect(external.http?.apiKey == .environment("SOME_KEY"))
        #expect(configuration.providers[1].http?.readTimeout == .milliseconds(200))
        #expect(configuration.providers[1].http?.retries == 1)
        #expect(configuration.canary?.provider == "vpc-llama")
        #expect(configuration.prompts.prompt(for: "external-gpt").description == "assistant.v2")
        #expect(configuration.prompts.prompt(for: "local").description == "assistant.v1")
    }

    static func failure(_ yaml: String) -> ConfigurationError? {
        do {
            _ = try RoutingConfiguration.parse(yaml, file: "c.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        // (replace, with, line, column, words in the message)
        ("    retries: 1\n", "    retries: 1\n    retires: 2\n", 14, 5, "unknown key 'retires'"),
        ("residency: vpc", "residency: cloud", 9, 16, "unknown residency 'cloud'"),
        ("name: external-gpt", "name: vpc-llama", 14, 5, "duplicate provider name 'vpc-llama'"),
        ("server: {", "serve: {", 1, 1, "unknown key 'serve'"),
        ("default: local", "default: nowhere", 23, 12, "unknown provider 'nowhere'"),
        ("percent: 0}", "percent: 150}", 24, 42, "canary percent"),
        ("default: assistant.v1", "default: assistant", 25, 22, "name.vN"),
        ("    retries: 1\n", "    retries: 1\n    retries: 2\n", 13, 5, "duplicate key 'retries'"),
        ("kind: openai\n    residency: vpc", "kind: grpc\n    residency: vpc", 8, 11, "unknown kind 'grpc'"),
    ])
    func mistakesArePositioned(replace: String, with: String, line: Int, column: Int, words: String) throws {
        let yaml = Self.valid.replacingOccurrences(of: replace, with: with)
        #expect(yaml != Self.valid)
        let error = try #require(Self.failure(yaml))
        #expect(error.message.contains(words), "\(error)")
        #expect(error.line == line, "\(error)")
        #expect(error.column == column, "\(error)")
        #expect(error.description.hasPrefix("c.yaml:\(line):\(column): error: "))
    }

    @Test func aLocalProviderMustBeOnPrem() {
        let yaml = Self.valid.replacingOccurrences(of: "residency: on-prem", with: "residency: external")
        #expect(Self.failure(yaml)?.message.contains("on-prem") == true)
    }

    @Test func aCanaryAboveZeroNeedsAKey() {
        let yaml = Self.valid.replacingOccurrences(of: "percent: 0}", with: "percent: 5}")
        #expect(Self.failure(yaml)?.message.contains("key_file or key_env") == true)
    }

    @Test func circuitBreakerSettingsAreReadAndChecked() throws {
        let yaml = Self.valid + "\n  health: {cooldown_ms: 250, max_cooldown_ms: 4000, failures: 2}\n"
        let health = try RoutingConfiguration.parse(yaml, file: "c.yaml").health
        #expect(health == ProviderHealth.Settings(base: .milliseconds(250), maximum: .seconds(4), threshold: 2))
        #expect(try RoutingConfiguration.parse(Self.valid, file: "c.yaml").health == ProviderHealth.Settings())
        let inverted = Self.valid + "\n  health: {cooldown_ms: 5000, max_cooldown_ms: 10}\n"
        #expect(Self.failure(inverted)?.message.contains("shorter than cooldown_ms") == true)
        let unknown = Self.valid + "\n  health: {cooldown: 5}\n"
        let error = try #require(Self.failure(unknown))
        #expect(error.message.contains("unknown key 'cooldown'") && error.line == 26, "\(error)")
    }

    @Test func yamlSyntaxErrorsKeepTheirPosition() throws {
        let error = try #require(Self.failure("providers:\n  - name: [unclosed\n"))
        #expect(error.line >= 2)
        #expect(error.message.hasPrefix("YAML"))
    }
}
