// Several local models in one server: each `kind: local` provider is served from its own `model_path`
// (two files, two engines, two model ids), `/model` picks between them, and `/models` shows the engine
// settings the configuration file set (context, threads, sampling).
import Foundation
import Testing

@Suite(.serialized) struct LocalModelsTests {
    @Test func twoLocalModelsAnswerByModelChoiceWithTheirConfiguredSettings() throws {
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
                model_path: models/first-SmolLM2.gguf
              - name: local-b
                kind: local
                residency: on-prem
                model_path: models/second-SmolLM2.gguf
            routing:
              default: local
              prompts: {default: assistant.v1}
            """
        let served = try ServedDirectory(
            configuration: configuration,
            prepare: { directory in
                let pinned = EnclaveBinary.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
                for name in ["first-SmolLM2.gguf", "second-SmolLM2.gguf"] {
                    try FileManager.default.createSymbolicLink(
                        at: directory.appendingPathComponent("models/\(name)"), withDestinationURL: pinned)
                }
                try FileManager.default.createDirectory(
                    at: directory.appendingPathComponent("prompts"), withIntermediateDirectories: true)
                try FileManager.default.copyItem(
                    at: EnclaveBinary.packageRoot.appendingPathComponent("prompts/assistant.v1.txt"),
                    to: directory.appendingPathComponent("prompts/assistant.v1.txt"))
            })
        defer { if served.process.isRunning { served.process.terminate() } }
        try #require(served.port > 0)
        let client = try ChatLoadClient(port: served.port)
        #expect(client.readBanner())
        #expect(client.exchange("/login admin \(served.adminPassword)").final?.hasPrefix("OK user=admin") == true)

        let models = client.exchange("/models").lines
        #expect(models.last == "OK providers=2", "\(models)")
        for (name, model) in [("local", "first-SmolLM2"), ("local-b", "second-SmolLM2")] {
            let row = try #require(models.first { $0.hasPrefix("= \(name)\t") }, "\(models)")
            let fields = row.split(separator: "\t").map(String.init)
            #expect(fields[3] == model, "\(fields)")
            #expect(fields.last?.contains("ctx=1024") == true && fields.last?.contains("threads=1") == true, "\(fields)")
            #expect(fields.last?.contains("temperature=0.0") == true, "\(fields)")
        }

        let first = client.exchange("Say hello.")
        #expect(first.final?.contains("provider=local model=first-SmolLM2") == true, "\(first.lines)")
        #expect(client.exchange("/new").final?.hasPrefix("OK conversation=") == true)
        #expect(client.exchange("/model local-b").final?.hasPrefix("OK model=local-b") == true)
        let second = client.exchange("Say hello.")
        #expect(second.final?.contains("provider=local-b model=second-SmolLM2") == true, "\(second.lines)")
        // Greedy sampling from the file (temperature 0, top_k 1): the same model file gives the same words.
        #expect(first.lines.filter { $0.hasPrefix("> ") } == second.lines.filter { $0.hasPrefix("> ") })
    }
}
