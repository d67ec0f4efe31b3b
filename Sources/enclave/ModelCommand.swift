// `enclave model list|info|verify|generate|score|tokenize|logits`: list the configured models, inspect and
// exercise a GGUF model from the shell. The acceptance checks call these; their names and flags are part
// of the contract (issue 3).
import ArgumentParser
import Foundation
import GGUF
import Inference

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "List the configured local models; inspect and run a GGUF model in-process.",
        subcommands: [List.self, Info.self, Verify.self, Generate.self, Score.self, Tokenize.self, Logits.self]
    )
}

/// Loads the pieces a subcommand needs, turning library errors into clean exits.
enum ModelLoader {
    static func model(_ path: String, threads: Int) throws -> TransformerModel {
        do { return try TransformerModel(path: path, threads: threads) } catch {
            throw ValidationError(error.description)
        }
    }

    static func tokenizer(_ file: GGUFFile) throws -> Tokenizer {
        do { return try Tokenizer(vocabulary: TokenizerVocabulary(gguf: file)) } catch {
            throw ValidationError("cannot build the tokenizer: \(error)")
        }
    }

    static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ValidationError("\(path) is not valid UTF-8")
        }
        return text
    }

    static func json(_ ids: [Int32]) -> String { "[" + ids.map(String.init).joined(separator: ",") + "]" }
}

extension ModelCommand {
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Architecture, sizes, tensor types, context, template.")
        @Argument(help: "The GGUF file.") var file: String

        func run() throws {
            let gguf: GGUFFile
            do { gguf = try GGUFFile(path: file) } catch { throw ValidationError(error.description) }
            print("file: \(file) (\(gguf.fileSize) bytes, GGUF v\(gguf.version), \(gguf.tensors.count) tensors)")
            if let name = gguf.metadata.string("general.name") { print("name: \(name)") }
            print("architecture: \(gguf.metadata.string("general.architecture") ?? "unknown")")
            do {
                let c = try ModelConfig(file: gguf)
                print(
                    "layers: \(c.layerCount)  dim: \(c.dim)  ffn: \(c.hiddenDim)  heads: \(c.headCount)  kv heads: \(c.kvHeadCount)  head dim: \(c.headDim)"
                )
                print("vocabulary: \(c.vocabularySize)  context length: \(c.trainedContextLength)")
                print(
                    "rope: \(c.ropeStyle.rawValue), base \(c.ropeFrequencyBase), dims \(c.ropeDimensions)  rms eps: \(c.rmsEpsilon)"
                )
            } catch {
                print("unsupported: \(error.description)")
            }
            var counts: [String: (Int, Int)] = [:]
            for t in gguf.tensors {
                let previous = counts[t.type.description] ?? (0, 0)
                counts[t.type.description] = (previous.0 + 1, previous.1 + t.byteCount)
            }
            let types = counts.sorted { $0.value.1 > $1.value.1 }.map { "\($0.key) ×\($0.value.0)" }
            print("tensor types: \(types.joined(separator: ", "))")
            let family = ChatTemplateFamily.detect(
                template: gguf.metadata.string("tokenizer.chat_template"),
                vocabulary: gguf.metadata.strings("tokenizer.ggml.tokens") ?? [])
            print("chat template: \(family?.rawValue ?? "unrecognised")")
            print(
                "tokenizer: \(gguf.metadata.string("tokenizer.ggml.model") ?? "none") (pre: \(gguf.metadata.string("tokenizer.ggml.pre") ?? "default"))"
            )
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Continue a prompt (or answer it as a chat turn).")
        @Argument(help: "The GGUF file.") var file: String
        @Option(help: "A UTF-8 file holding the prompt.") var promptFile: String
        @Flag(help: "Send the prompt as one user turn in the model's chat template.") var chat = false
        @Option(help: "Most tokens to generate.") var maxTokens = 128
        @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.7
        @Option(help: "Random seed.") var seed: UInt64 = 42
        @Option(help: "Threads.") var threads = 2
        @Flag(help: "Print the generated token ids as a JSON array instead of text.") var ids = false

        func run() throws {
            let model = try ModelLoader.model(file, threads: threads)
            let tokenizer = try ModelLoader.tokenizer(model.file)
            let text = try ModelLoader.readText(promptFile)
            let prompt: [Int32]
            if chat {
                let vocabulary = tokenizer.vocabulary
                guard let template = ChatTemplate(jinja: vocabulary.chatTemplate, vocabulary: vocabulary.tokens) else {
                    throw ValidationError("the model's chat template is not recognised")
                }
                prompt = PromptEncoder(tokenizer: tokenizer, template: template).encode([
                    ChatTurn(role: .user, content: text)
                ])
            } else {
                prompt = tokenizer.encode(text, addBOS: tokenizer.vocabulary.addBOS, parseSpecial: true)
            }
            guard !prompt.isEmpty else { throw ValidationError("the prompt is empty") }
            let cache = model.makeCache(capacity: min(model.config.trainedContextLength, prompt.count + maxTokens))
            var sampling = SamplingParameters()
            sampling.temperature = temperature
            sampling.seed = seed
            var sampler = Sampler(sampling)
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var history = prompt
            var generated: [Int32] = []
            do {
                var logits = try model.evaluate(prompt, cache: cache)
                while generated.count < maxTokens {
                    let token = sampler.sample(&logits, history: history)
                    if tokenizer.isEndOfGeneration(token) { break }
                    generated.append(token)
                    history.append(token)
                    if !ids {
                        FileHandle.standardOutput.write(Data(decoder.append(token).utf8))
                    }
                    if generated.count == maxTokens || cache.count >= cache.capacity { break }
                    logits = try model.evaluate([token], cache: cache)
                }
            } catch {
                throw ValidationError(error.description)
            }
            print(ids ? ModelLoader.json(generated) : decoder.finish())
        }
    }

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Perplexity of a text, as llama-perplexity computes it.")
        @Argument(help: "The GGUF file.") var file: String
        @Option(help: "A UTF-8 text file.") var textFile: String
        @Option(help: "Tokens per chunk.") var ctx = 512
        @Option(help: "Threads.") var threads = 2

        func run() throws {
            let model = try ModelLoader.model(file, threads: threads)
            let tokenizer = try ModelLoader.tokenizer(model.file)
            let vocabulary = tokenizer.vocabulary
            let tokens = tokenizer.encode(
                try ModelLoader.readText(textFile), addBOS: vocabulary.addBOS, parseSpecial: false)
            let started = ContinuousClock.now
            do {
                let result = try model.perplexity(
                    of: tokens, context: ctx, bos: vocabulary.addBOS ? vocabulary.bosID : nil)
                let seconds = (ContinuousClock.now - started) / .seconds(1)
                print(
                    String(
                        format: "perplexity: %.4f  (%d chunks of %d, %d tokens scored, %.1f s)", result.perplexity,
                        result.chunks, ctx, result.scoredTokens, seconds))
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    struct Tokenize: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Token ids of a text, as a JSON array.")
        @Argument(help: "The GGUF file.") var file: String
        @Option(help: "A UTF-8 text file.") var textFile: String
        @Flag(help: "Add the BOS token.") var bos = false

        func run() throws {
            let gguf: GGUFFile
            do { gguf = try GGUFFile(path: file) } catch { throw ValidationError(error.description) }
            let tokenizer = try ModelLoader.tokenizer(gguf)
            print(
                ModelLoader.json(tokenizer.encode(try ModelLoader.readText(textFile), addBOS: bos, parseSpecial: false))
            )
        }
    }

    /// Raw logits for comparison with an oracle (deploy/oracle/logits_compare.py): the first `--batch` ids go
    /// in one batch, the rest one at a time (as greedy decoding does); every position's logits are written.
    struct Logits: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every position's logits (little-endian f32) for a JSON array of token ids.")
        @Argument(help: "The GGUF file.") var file: String
        @Option(help: "A file holding a JSON array of token ids.") var idsFile: String
        @Option(help: "How many leading ids to evaluate as one batch (default: all).") var batch: Int?
        @Option(help: "Where to write positions × vocabulary floats.") var out: String
        @Option(help: "Threads.") var threads = 2

        func run() throws {
            let model = try ModelLoader.model(file, threads: threads)
            let data = FileManager.default.contents(atPath: idsFile) ?? Data()
            guard let ids = try? JSONDecoder().decode([Int32].self, from: data), !ids.isEmpty else {
                throw ValidationError("\(idsFile) does not hold a JSON array of token ids")
            }
            let first = min(ids.count, max(1, batch ?? ids.count))
            let cache = model.makeCache(capacity: ids.count)
            var output = Data()
            let append: (Int, UnsafeBufferPointer<Float>) -> Void = { _, logits in output.append(Data(buffer: logits)) }
            do {
                try model.evaluate(Array(ids[..<first]), cache: cache, logitsFrom: 0, append)
                for id in ids[first...] { try model.evaluate([id], cache: cache, logitsFrom: 0, append) }
            } catch {
                throw ValidationError(error.description)
            }
            guard FileManager.default.createFile(atPath: out, contents: output) else {
                throw ValidationError("cannot write \(out)")
            }
        }
    }
}
