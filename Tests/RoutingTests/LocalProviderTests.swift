// The in-process engine behind the provider interface, over the real model file (installed by
// `make model`): text streams piece by piece, the reported model id and usage are the engine's, and a
// routed call through the executor records on-prem residency and the engine's counts.
import Foundation
import Inference
import Policy
import Testing

@testable import Routing

/// The pinned default model, as `make model` installs it.
let localModelPath = repositoryRoot + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"

@Suite(.enabled(if: FileManager.default.fileExists(atPath: localModelPath)))
struct LocalProviderTests {
    static let engine: InferenceEngine? = try? InferenceEngine(
        modelPath: localModelPath, contextLength: 512, threads: 2)

    @Test func streamsTheEngineReplyWithItsUsage() async throws {
        let engine = try #require(Self.engine)
        let provider = LocalProvider(engine: engine)
        #expect(provider.info.residency == .onPrem)
        #expect(provider.info.contextLength == 512)
        let messages = [ChatTurn(role: .user, content: "Name three colours.")]
        var pieces: [String] = []
        var usage: (Int, Int)?
        var model: String?
        for try await event in provider.stream(ChatRequest(messages: messages, maxTokens: 12, sampling: .greedy)) {
            switch event {
            case .text(let piece): pieces.append(piece)
            case .usage(let tokensIn, let tokensOut): usage = (tokensIn, tokensOut)
            case .model(let id): model = id
            }
        }
        #expect(model == engine.modelID)
        #expect(pieces.count >= 2)  // streamed, not one block
        #expect(!pieces.joined().isEmpty)
        let (tokensIn, tokensOut) = try #require(usage)
        #expect(tokensIn == engine.countTokens(messages))
        #expect(tokensOut > 0 && tokensOut <= 12)
        #expect(provider.countTokens(messages) == engine.countTokens(messages))
    }

    @Test func aConfigurationEntryNamesPricesAndNarrowsTheContext() throws {
        let engine = try #require(Self.engine)
        let configuration = try RoutingConfiguration.parse(
            """
            providers:
              - {name: ward-model, kind: local, residency: on-prem, region: site-a, model_path: m.gguf,
                 context_length: 300, price: {input_per_million: 0.5}}
            routing: {default: ward-model, prompts: {default: assistant.v1}}
            """, file: "local.yaml")
        let provider = LocalProvider(configuration: configuration.providers[0], engine: engine)
        #expect(provider.info.name == "ward-model" && provider.info.region == "site-a")
        #expect(provider.info.contextLength == 300)
        #expect(provider.info.pricing == Pricing(inputPerMillion: 0.5, outputPerMillion: 0))
        #expect(provider.info.model == engine.modelID)
    }

    @Test func aRoutedLocalCallIsRecordedOnPrem() async throws {
        let engine = try #require(Self.engine)
        let prompts = PromptSelection(defaultPrompt: PromptReference(name: "assistant", version: 1))
        let registry = ProviderRegistry(
            providers: [LocalProvider(engine: engine)], defaultProvider: "local", prompts: prompts)
        let executor = ProviderGateway(
            registry: registry, prompts: try PromptLibrary(directory: repositoryRoot + "/prompts", selection: prompts))
        let plan = RoutePlan(primary: "local", fallbacks: [], arm: .none, reason: .default, rule: "r", tags: [])
        let result = try await executor.run(
            plan: plan, history: [], message: "Hello!", maxTokens: 8, sampling: .greedy, beforeCall: { _ in },
            afterCall: { _ in }, onText: { _ in })
        #expect(result.record.outcome == .ok)
        #expect(result.record.residency == .onPrem)
        #expect(result.record.modelID == engine.modelID)
        #expect(!result.record.tokensEstimated)
        #expect(result.record.tokensOut > 0 && result.record.tokensOut <= 8)
        #expect(result.record.cost == 0)
    }
}
