// Several local models in one server: each `kind: local` provider is served from its own `model_path`
// (two files, two engines, two model ids), `/model` picks between them, and `/models` shows the engine
// settings the configuration file set (context, threads, sampling); SmolLM2 and Gemma 3 side by side.
import EnclaveTestSupport
import Foundation
import Testing

@Suite(.serialized) struct LocalModelsTests {
    /// A server whose local providers `local` and `local-b` serve `files` (links named `names` to files
    /// under the package's models/), with the assistant.v1 prompt.
    private func serve(_ files: [(link: String, file: String)]) throws -> ServedDirectory {
        let configuration = """
            limits:
              max_tokens: 6
            engine:
              threads: 1
              context_length: 1024
              sampling: {temperature: 0, top_k: 1}
            providers:
              - name: local
                kind: local
                residency: on-prem
                model_path: models/\(files[0].link)
              - name: local-b
                kind: local
                residency: on-prem
                model_path: models/\(files[1].link)
            routing:
              default: local
              prompts: {default: assistant.v1}
            """
        return try ServedDirectory(
            configuration: configuration,
            prepare: { directory in
                for (link, file) in files {
                    try FileManager.default.createSymbolicLink(
                        at: directory.appendingPathComponent("models/\(link)"),
                        withDestinationURL: EnclaveBinary.packageRoot.appendingPathComponent("models/\(file)"))
                }
                try FileManager.default.createDirectory(
                    at: directory.appendingPathComponent("prompts"), withIntermediateDirectories: true)
                try FileManager.default.copyItem(
                    at: EnclaveBinary.packageRoot.appendingPathComponent("prompts/assistant.v1.txt"),
                    to: directory.appendingPathComponent("prompts/assistant.v1.txt"))
            })
    }

    /// A client logged in as the admin of `served`.
    private func login(_ served: ServedDirectory) throws -> ChatLoadClient {
        try #require(served.port > 0)
        let client = try ChatLoadClient(port: served.port)
        #expect(client.readBanner())
        #expect(client.exchange("/login admin \(served.adminPassword)").final?.hasPrefix("OK user=admin") == true)
        return client
    }

    /// Asks the same question through `local`, then (in a new conversation) through `local-b`, checking
    /// that each answer names its provider and model.
    private func askBoth(_ client: ChatLoadClient, models: (String, String))
        -> (ChatLoadClient.Reply, ChatLoadClient.Reply)
    {
        let first = client.exchange("Say hello.")
        #expect(first.final?.contains("provider=local model=\(models.0)") == true, "\(first.lines)")
        #expect(client.exchange("/new").final?.hasPrefix("OK conversation=") == true)
        #expect(client.exchange("/model local-b").final?.hasPrefix("OK model=local-b") == true)
        let second = client.exchange("Say hello.")
        #expect(second.final?.contains("provider=local-b model=\(models.1)") == true, "\(second.lines)")
        return (first, second)
    }

    static let smol = "SmolLM2-135M-Instruct.Q4_1.gguf"
    static let gemma = "gemma-3-270m-q4_k_m.gguf"
    static let gemmaPresent = FileManager.default.fileExists(
        atPath: EnclaveBinary.packageRoot.appendingPathComponent("models/\(gemma)").path)

    @Test func twoLocalModelsAnswerByModelChoiceWithTheirConfiguredSettings() throws {
        let served = try serve([("first-SmolLM2.gguf", Self.smol), ("second-SmolLM2.gguf", Self.smol)])
        defer { if served.process.isRunning { served.process.terminate() } }
        let client = try login(served)

        let models = client.exchange("/models").lines
        #expect(models.last == "OK providers=2", "\(models)")
        for (name, model) in [("local", "first-SmolLM2"), ("local-b", "second-SmolLM2")] {
            let row = try #require(models.first { $0.hasPrefix("= \(name)\t") }, "\(models)")
            let fields = row.split(separator: "\t").map(String.init)
            #expect(fields[3] == model, "\(fields)")
            #expect(
                fields.last?.contains("ctx=1024") == true && fields.last?.contains("threads=1") == true, "\(fields)")
            #expect(fields.last?.contains("temperature=0.0") == true, "\(fields)")
        }

        let (first, second) = askBoth(client, models: ("first-SmolLM2", "second-SmolLM2"))
        // Greedy sampling from the file (temperature 0, top_k 1): the same model file gives the same words.
        #expect(first.lines.filter { $0.hasPrefix("> ") } == second.lines.filter { $0.hasPrefix("> ") })
    }

    /// SmolLM2 (byte-level BPE, ChatML) and Gemma 3 (SentencePiece, Gemma turns, sliding-window layers) in
    /// one server: `/model local-b` answers through Gemma.
    @Test(
        .enabled(
            if: gemmaPresent || TestSetUp.required,
            "models/gemma-3-270m-q4_k_m.gguf is absent: run deploy/fetch-test-models.sh"))
    func smolLM2AndGemmaAnswerSideBySide() throws {
        let served = try serve([("smol.gguf", Self.smol), ("gemma-3-270m.gguf", Self.gemma)])
        defer { if served.process.isRunning { served.process.terminate() } }
        let client = try login(served)
        let (_, second) = askBoth(client, models: ("smol", "gemma-3-270m"))
        #expect(second.lines.contains { $0.hasPrefix("> ") && $0.count > 2 }, "\(second.lines)")
    }
}
