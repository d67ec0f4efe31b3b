// Tiny random-weight models of qwen3, phi3 (also with Phi 3.5's LongRoPE) and llama with a SentencePiece
// vocabulary (Llama 2 / Mistral family), written at test time by deploy/tiny_models.py with PyPI's `gguf`
// package (in the test venv deploy/install-deps.sh makes), against goldens recorded from llama.cpp by
// deploy/oracle/tiny_goldens.py and longrope_goldens.py (Fixtures/tiny_<name>.json): tokenization of the
// varied string set, llama.cpp's logits at every position of each prompt (one batch) and at the first and
// last, greedy continuations while llama.cpp's top-1/top-2 margin is at least 0.1, and each file's own chat
// template recognised and rendered as llama.cpp renders it. No weights are downloaded; the goldens name the
// SHA-256 of the file they describe.
import EnclaveTestSupport
import Foundation
import GGUF
import Inference
import Testing

enum TinyModels {
    static let names = ["qwen3", "phi3", "llama-spm"]

    /// The project's cache directory (`ENCLAVE_CACHE_DIR`, default `cache/` in the checkout).
    static var cache: String {
        let cache =
            ProcessInfo.processInfo.environment["ENCLAVE_CACHE_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "cache"
        return cache.hasPrefix("/") ? cache : TokenizerFixtures.root.path + "/" + cache
    }

    /// The test venv's Python (deploy/install-deps.sh with ENCLAVE_TEST_DEPS=1), which has `gguf`.
    static var python: String { cache + "/test-venv/bin/python" }

    /// The directory the generator wrote the files into (`cache/tiny-models`, rewritten once per process
    /// with the same bytes); nil when it could not run.
    static let directory: URL? = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
        let out = URL(fileURLWithPath: cache + "/tiny-models")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [TokenizerFixtures.root.appendingPathComponent("deploy/tiny_models.py").path, out.path]
        process.standardOutput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? out : nil
    }()

    static let available = FileManager.default.isExecutableFile(atPath: python)
    static let absent: Comment = "the test venv is absent: run ENCLAVE_TEST_DEPS=1 deploy/install-deps.sh"

    static func path(_ name: String) throws -> String {
        let directory = try #require(directory, "deploy/tiny_models.py failed with \(python)")
        return directory.appendingPathComponent("tiny-\(name).gguf").path
    }

    static func goldens(_ name: String) throws -> [String: Any] { try TokenizerFixtures.json("tiny_\(name).json") }

    /// How far a long prompt's logits may be from llama.cpp's: the products give llama.cpp's bits, so only
    /// the last float roundings elsewhere differ (measured 5e-7); the issue asks 0.2.
    static let longPromptBound: Float = 1e-3
}

@Suite(.serialized, .enabled(if: TinyModels.available || TestSetUp.required, TinyModels.absent))
struct TinyArchitectureTests {
    /// The generated file is the one the goldens were recorded from (else every comparison below would
    /// compare other weights).
    @Test(arguments: TinyModels.names)
    func fileIsTheOneTheGoldensDescribe(_ name: String) throws {
        let expected = try TinyModels.goldens(name)["sha256"] as? String
        #expect(try sha256(ofFile: TinyModels.path(name)) == expected, "regenerate with deploy/oracle/tiny_goldens.py")
    }

    @Test func readsEachArchitectureFromMetadata() throws {
        let qwen = try TransformerModel(path: try TinyModels.path("qwen3"), threads: 1).config
        #expect(qwen.architecture == "qwen3" && qwen.ropeStyle == .neox && qwen.hasQueryKeyNorms)
        #expect(qwen.headDim == 32 && qwen.headCount * qwen.headDim == 2 * qwen.dim && !qwen.scalesQueries)
        let phi = try TransformerModel(path: try TinyModels.path("phi3"), threads: 1).config
        #expect(phi.architecture == "phi3" && phi.ropeStyle == .neox && phi.scalesQueries && !phi.hasQueryKeyNorms)
        let llama = try TransformerModel(path: try TinyModels.path("llama-spm"), threads: 1).config
        #expect(llama.ropeStyle == .normal && llama.kvHeadCount == 2 && llama.headCount == 4)
    }

    @Test(arguments: TinyModels.names)
    func tokenizationMatchesLlamaCpp(_ name: String) throws {
        let vocabulary = try TokenizerVocabulary(gguf: GGUFFile(path: try TinyModels.path(name)))
        #expect(vocabulary.model == (name == "qwen3" ? "gpt2" : "llama"))
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        let cases = TokenizerFixtures.cases(in: "tiny_\(name).json")
        #expect(cases.count >= 60)
        for golden in cases {
            TokenizerFixtures.expectMatches(tokenizer, golden)
            #expect(tokenizer.decode(golden.ids) == golden.decoded, "\(golden.text.debugDescription)")
        }
    }

    /// Every position of each prompt evaluated as one batch, llama.cpp's top 10 within the 0.2.
    @Test(arguments: TinyModels.names)
    func logitsAtEveryPositionMatchLlamaCpp(_ name: String) throws {
        let model = try TransformerModel(path: try TinyModels.path(name), threads: 2)
        let goldens = try EngineGoldens.load("tiny_\(name).json")
        let positions = try #require(TinyModels.goldens(name)["positions"] as? [[[String: Any]]])
        #expect(positions.count == goldens.prompts.count)
        var worst: Float = 0
        for (prompt, rows) in zip(goldens.prompts, positions) {
            #expect(rows.count == prompt.prompt.count)
            let cache = model.makeCache(capacity: prompt.prompt.count)
            try model.evaluate(prompt.prompt, cache: cache, logitsFrom: 0) { i, logits in
                let ids = rows[i]["ids"] as? [Int] ?? []
                let values = (rows[i]["logits"] as? [NSNumber] ?? []).map(\.floatValue)
                #expect(ids.count == 10)
                for (id, value) in zip(ids, values) {
                    worst = max(worst, abs(logits[id] - value))
                    #expect(abs(logits[id] - value) < GoldenChecks.logitTolerance, "\(name) position \(i) id \(id)")
                }
            }
        }
        print("tiny \(name): largest logit difference from llama.cpp \(worst)")
        // The first position evaluated alone and the last of each prompt, top 20.
        try GoldenChecks.logits(model, goldens)
    }

    @Test(arguments: TinyModels.names)
    func greedyContinuationsMatchLlamaCpp(_ name: String) throws {
        let model = try TransformerModel(path: try TinyModels.path(name), threads: 2)
        let goldens = try EngineGoldens.load("tiny_\(name).json")
        #expect(goldens.prompts.count >= 5)
        try GoldenChecks.greedy(model, goldens)
    }

    /// The file's own template is recognised (Mistral's v3 `[INST]` for llama-spm, ChatML for qwen3) and
    /// our rendering, encoded, equals llama.cpp's rendering through that template, tokenized.
    @Test(arguments: [("llama-spm", ChatTemplateFamily.mistral), ("qwen3", .chatml)])
    func chatTemplateMatchesLlamaCpp(_ name: String, _ family: ChatTemplateFamily) throws {
        let vocabulary = try TokenizerVocabulary(gguf: GGUFFile(path: try TinyModels.path(name)))
        let template = try #require(ChatTemplate(jinja: vocabulary.chatTemplate, vocabulary: vocabulary.tokens))
        #expect(template.family == family)
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        let encoder = PromptEncoder(tokenizer: tokenizer, template: template)
        let renderings = try #require(TinyModels.goldens(name)["renderings"] as? [[String: Any]])
        #expect(renderings.count >= 4)
        let bos: [Int32] = vocabulary.addBOS ? [try #require(vocabulary.bosID)] : []
        for entry in renderings {
            let turns = try #require(entry["turns"] as? [[String: String]]).map {
                ChatTurn(role: ChatRole(rawValue: $0["role"] ?? "") ?? .user, content: $0["content"] ?? "")
            }
            #expect(template.render(turns, addGenerationPrompt: true) == entry["prompt"] as? String)
            #expect(encoder.encode(turns) == bos + TokenizerFixtures.ids(entry["ids"]), "\(turns)")
        }
    }

    /// Prompts of 12 to 400 tokens, each one batch, against the native llama.cpp
    /// (deploy/oracle/tiny_long_goldens.py, Fixtures/tiny_long_prompts.json): its top 20 at the first and
    /// last position, in contexts of 512 and 2048 positions. From 32 tokens on a prompt's products are
    /// batched, and their bits must be llama.cpp's (see Matmul's multipliesBatchesInIntegers); the
    /// LongRoPE file takes its short frequency factors in the first context and its long ones in the second.
    @Test(arguments: TinyModels.names + ["phi3-longrope"])
    func longPromptsMatchLlamaCpp(_ name: String) throws {
        let all = try #require(TokenizerFixtures.json("tiny_long_prompts.json")["models"] as? [String: Any])
        let goldens = try #require(all[name] as? [String: Any], "no long-prompt goldens for \(name)")
        #expect(try sha256(ofFile: TinyModels.path(name)) == goldens["sha256"] as? String)
        let model = try TransformerModel(path: try TinyModels.path(name), threads: 2)
        let prompts = try #require(goldens["prompts"] as? [[Int]]).map { $0.map(Int32.init) }
        let runs = try #require(goldens["runs"] as? [[String: Any]])
        #expect(runs.map { $0["ctx"] as? Int } == [512, 2048] && prompts.contains { $0.count >= 400 })
        let bound = TinyModels.longPromptBound
        var lasts: [[[(id: Int, logit: Float)]]] = []  // [context][prompt]: the top 20 at the last position
        var worst: Float = 0
        for run in runs {
            let context = try #require(run["ctx"] as? Int)
            let pairs = { (key: String) in
                (run[key] as? [[[NSNumber]]] ?? []).map { $0.map { (id: $0[0].intValue, logit: $0[1].floatValue) } }
            }
            let (first, last) = (pairs("first"), pairs("last"))
            try #require(first.count == prompts.count && last.count == prompts.count)
            lasts.append(last)
            for (p, prompt) in prompts.enumerated() {
                try model.evaluate(prompt, cache: model.makeCache(capacity: context), logitsFrom: 0) { i, logits in
                    guard i == 0 || i == prompt.count - 1 else { return }
                    for (id, value) in i == 0 ? first[p] : last[p] {
                        worst = max(worst, abs(logits[id] - value))
                        #expect(
                            abs(logits[id] - value) < bound, "ctx \(context), \(prompt.count) tokens, position \(i)")
                    }
                }
            }
        }
        print("tiny \(name), long prompts: largest logit difference from llama.cpp \(worst) (bound \(bound))")
        // LongRoPE: the contexts' goldens differ, so the wrong set of factors fails the comparison above.
        if name == "phi3-longrope" {
            #expect(model.config.ropeOriginalContextLength == 512 && model.config.ropeAttentionFactor == 1.19)
            let apart = zip(lasts[0], lasts[1]).map { zip($0, $1).map { abs($0.logit - $1.logit) }.max() ?? 0 }
            #expect(apart.allSatisfy { $0 > 2 * GoldenChecks.logitTolerance }, "\(apart)")
        }
    }

    /// SHA-256 of a file by the system's `sha256sum` (the test target links no crypto library).
    private func sha256(ofFile path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }
}
