// Chat templates against llama.cpp: the built-in renderings of `llama_chat_apply_template` for every
// family, and SmolLM2's own Jinja template as llama-cpp-python applies it (with its default system
// prompt), including the token ids of the rendered prompt.
import Inference
import Testing

@Suite("Chat templates (llama.cpp oracle)")
struct ChatTemplateTests {
    private static func turns(_ value: Any?) -> [ChatTurn] {
        (value as? [[String: String]] ?? []).compactMap { item in
            guard let role = item["role"].flatMap(ChatRole.init(rawValue:)), let content = item["content"] else {
                return nil
            }
            return ChatTurn(role: role, content: content)
        }
    }

    @Test func rendersEveryFamilyAsLlamaCppDoes() throws {
        let golden = try TokenizerFixtures.json("tokenizer_smollm2.json")
        let renderings = try #require(golden["builtinTemplates"] as? [[String: Any]])
        #expect(renderings.count >= 40)
        var families = Set<ChatTemplateFamily>()
        for entry in renderings {
            let family = try #require((entry["family"] as? String).flatMap(ChatTemplateFamily.init(rawValue:)))
            families.insert(family)
            let template = ChatTemplate(family: family)
            let add = entry["addGenerationPrompt"] as? Bool ?? false
            let rendered = template.render(Self.turns(entry["turns"]), addGenerationPrompt: add)
            #expect(rendered == entry["prompt"] as? String, "\(family) add=\(add)")
        }
        #expect(families == Set(ChatTemplateFamily.allCases))
    }

    @Test func rendersSmolLM2LikeItsOwnTemplate() throws {
        let golden = try TokenizerFixtures.json("tokenizer_smollm2.json")
        let renderings = try #require(golden["modelTemplate"] as? [[String: Any]])
        let vocabulary = try TokenizerFixtures.smolVocabulary.get()
        let tokenizer = try TokenizerFixtures.smol.get()
        let template = try #require(ChatTemplate(jinja: vocabulary.chatTemplate))
        #expect(template.family == .chatml)
        #expect(template.defaultSystemPrompt == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        for entry in renderings {
            let prompt = template.render(Self.turns(entry["turns"]), addGenerationPrompt: true)
            #expect(prompt == entry["prompt"] as? String)
            #expect(tokenizer.encode(prompt, addBOS: true, parseSpecial: true) == TokenizerFixtures.ids(entry["ids"]))
        }
    }

    @Test func detectsFamiliesFromJinjaMarkers() {
        #expect(ChatTemplateFamily.detect("{{'<|im_start|>' + message['role']}}") == .chatml)
        #expect(ChatTemplateFamily.detect("<|start_header_id|>{{ role }}<|end_header_id|>") == .llama3)
        #expect(ChatTemplateFamily.detect("{{ bos_token }}[INST] {{ content }} [/INST]") == .llama2)
        #expect(ChatTemplateFamily.detect("<start_of_turn>user\n{{ content }}<end_of_turn>") == .gemma)
        #expect(ChatTemplateFamily.detect("<|user|>\n{{ content }}</s>\n<|assistant|>\n") == .zephyr)
        #expect(ChatTemplateFamily.detect("<|user|>\n{{ content }}<|end|>\n<|assistant|>\n") == nil)  // Phi-3
        #expect(ChatTemplateFamily.detect("{{ messages }}") == nil)
        #expect(ChatTemplateFamily.detect(nil) == nil)
    }

    @Test func overrideWinsOverDetection() throws {
        let template = try #require(ChatTemplate(jinja: "<|im_start|>", override: .gemma))
        #expect(template.family == .gemma)
        #expect(ChatTemplate(jinja: "unknown", override: nil) == nil)
        #expect(ChatTemplate(jinja: nil, override: .llama3)?.family == .llama3)
    }

    @Test func noDefaultSystemPromptWhenTheConversationHasOne() throws {
        let template = ChatTemplate(family: .chatml, defaultSystemPrompt: "Default.")
        let withSystem = template.render(
            [ChatTurn(role: .system, content: "Mine."), ChatTurn(role: .user, content: "Hi")],
            addGenerationPrompt: false)
        #expect(!withSystem.contains("Default."))
        #expect(
            template.render([ChatTurn(role: .user, content: "Hi")], addGenerationPrompt: false)
                .hasPrefix("<|im_start|>system\nDefault.<|im_end|>\n"))
        #expect(template.render([], addGenerationPrompt: true) == "<|im_start|>assistant\n")
    }

    @Test func endOfTurnTokensStopGeneration() throws {
        let tokenizer = try TokenizerFixtures.smol.get()
        let endOfTurn = try #require(tokenizer.id(of: ChatTemplateFamily.chatml.endOfTurn))
        #expect(tokenizer.isEndOfGeneration(endOfTurn))
        #expect(ChatTemplateFamily.llama3.endOfTurn == "<|eot_id|>")
        #expect(ChatTemplateFamily.llama2.endOfTurn == "</s>")
        #expect(ChatTemplateFamily.gemma.endOfTurn == "<end_of_turn>")
        // Llama 3 style vocabularies: the eot id and end-of-turn texts end generation.
        var vocabulary = TokenizerFixtures.tinyVocabulary(
            pre: "llama-bpe", extra: ["<|eot_id|>", "<end_of_turn>"],
            merges: [])
        vocabulary.tokenTypes = [Int32](repeating: 1, count: 256) + [3, 3]
        vocabulary.eotID = 256
        let tiny = try Tokenizer(vocabulary: vocabulary)
        #expect(tiny.isEndOfGeneration(256) && tiny.isEndOfGeneration(257) && !tiny.isEndOfGeneration(97))
    }

    /// A file with no template (Gemma 3 270M's) is recognised by both turn markers in its vocabulary;
    /// a template that is present but unknown is not second-guessed from the vocabulary.
    @Test func detectsFamilyFromVocabularyWhenThereIsNoTemplate() throws {
        let base = ["<pad>", "hello", "<start_of_turn>"]
        #expect(ChatTemplateFamily.detect(template: nil, vocabulary: base) == nil)
        #expect(ChatTemplateFamily.detect(template: nil, vocabulary: base + ["<end_of_turn>"]) == .gemma)
        #expect(ChatTemplateFamily.detect(template: nil, vocabulary: ["<|im_end|>", "<|im_start|>"]) == .chatml)
        #expect(ChatTemplateFamily.detect(template: "{{ unknown }}", vocabulary: base + ["<end_of_turn>"]) == nil)
        let template = try #require(ChatTemplate(jinja: nil, vocabulary: base + ["<end_of_turn>"]))
        #expect(template.family == .gemma)
        #expect(ChatTemplate(jinja: nil, vocabulary: base) == nil)
    }
}
