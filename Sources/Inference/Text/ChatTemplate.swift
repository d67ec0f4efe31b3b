// Chat templates: how a conversation becomes one prompt string for a model family. GGUF files carry a
// Jinja template (`tokenizer.chat_template`); rather than run Jinja, we recognise the family from
// telltale markers, as llama.cpp's `llm_chat_detect_template` does, and render it in Swift exactly as
// llama.cpp's built-in templates do (`llama_chat_apply_template`). For ChatML we also honour the
// default system prompt some templates inject when the conversation has none (SmolLM2 does), so the
// prompt matches what the model's own template produces. A file with no template at all (the Gemma 3
// 270M GGUF has none) is recognised by the turn-marker tokens its vocabulary defines.

import Foundation

/// A role in a conversation.
public enum ChatRole: String, Sendable, Codable, CaseIterable {
    case system, user, assistant
}

/// One message of a conversation.
public struct ChatTurn: Sendable, Equatable, Codable {
    public var role: ChatRole
    public var content: String

    public init(role: ChatRole, content: String) {
        self.role = role
        self.content = content
    }
}

/// The prompt formats we render.
public enum ChatTemplateFamily: String, Sendable, CaseIterable, Codable {
    /// `<|im_start|>role\n...<|im_end|>\n` (SmolLM2, Qwen 2, many fine-tunes).
    case chatml
    /// `<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>` (Llama 3).
    case llama3
    /// `[INST] ... [/INST]` (Llama 2, Mistral v0.1/v0.2); the system prompt is prepended to the first user turn.
    case llama2
    /// Mistral's v3 format (`[INST] ...[/INST] reply</s>`, Mistral 7B v0.3 and later instruct files): no
    /// space before `[/INST]`, one before the reply, which is trimmed; a system prompt opens its turn.
    case mistral
    /// `<start_of_turn>user\n...<end_of_turn>\n` (Gemma); the system prompt is merged into the first user turn.
    case gemma
    /// `<|user|>\n...<|endoftext|>\n` (Zephyr).
    case zephyr

    /// The family a Jinja chat template belongs to, from the markers it contains; nil if none is recognised.
    public static func detect(_ template: String?) -> ChatTemplateFamily? {
        guard let template else { return nil }
        if template.contains("<|im_start|>") { return .chatml }
        if template.contains("<|start_header_id|>") && template.contains("<|end_header_id|>") { return .llama3 }
        if template.contains("<start_of_turn>") { return .gemma }
        if template.contains("[INST]") { return isMistralV3(template) ? .mistral : .llama2 }
        if template.contains("<|user|>") && template.contains("<|assistant|>") && !template.contains("<|end|>") {
            return .zephyr
        }
        return nil
    }

    /// llama.cpp's test for Mistral's official v3 template: it names `[AVAILABLE_TOOLS]` (or builds the v1
    /// `' [INST] ' + system_message`), without v1's space before `[INST]`, v3-Tekken's `"[INST]"` or v7's
    /// `[SYSTEM_PROMPT]`.
    private static func isMistralV3(_ template: String) -> Bool {
        guard !template.contains("[SYSTEM_PROMPT]") else { return false }
        let official = template.contains("[AVAILABLE_TOOLS]") || template.contains("' [INST] ' + system_message")
        return official && !template.contains(" [INST]") && !template.contains("\"[INST]\"")
    }

    /// The family of a model whose file has no chat template, from the turn markers its vocabulary
    /// defines as tokens (both the opening and the closing one); nil when none match.
    public static func detect(vocabulary tokens: [String]) -> ChatTemplateFamily? {
        let markers: [(ChatTemplateFamily, String, String)] = [
            (.gemma, "<start_of_turn>", "<end_of_turn>"), (.chatml, "<|im_start|>", "<|im_end|>"),
            (.llama3, "<|start_header_id|>", "<|eot_id|>"),
        ]
        let wanted = Set(markers.flatMap { [$0.1, $0.2] })
        let present = Set(tokens.lazy.filter { $0.utf8.count <= 20 && wanted.contains($0) })
        return markers.first { present.contains($0.1) && present.contains($0.2) }?.0
    }

    /// The family for a model file: its template's, else (only when it has no template) its vocabulary's.
    public static func detect(template: String?, vocabulary: [String]) -> ChatTemplateFamily? {
        guard let template else { return detect(vocabulary: vocabulary) }
        return detect(template)
    }

    /// The token text that closes a turn in this format; generation stops when the model emits it.
    public var endOfTurn: String {
        switch self {
        case .chatml: "<|im_end|>"
        case .llama3: "<|eot_id|>"
        case .llama2, .mistral: "</s>"
        case .gemma: "<end_of_turn>"
        case .zephyr: "<|endoftext|>"
        }
    }
}

/// Renders conversations in one ``ChatTemplateFamily``'s format.
public struct ChatTemplate: Sendable, Equatable {
    public let family: ChatTemplateFamily
    /// A system prompt to insert when the conversation does not start with one (ChatML only).
    public let defaultSystemPrompt: String?

    /// A template of `family`, optionally with a default system prompt.
    public init(family: ChatTemplateFamily, defaultSystemPrompt: String? = nil) {
        self.family = family
        self.defaultSystemPrompt = family == .chatml ? defaultSystemPrompt : nil
    }

    /// The template for a model: `override` when given, else the family detected in `jinja` (the model's
    /// `tokenizer.chat_template`), or in `vocabulary` when there is no template; nil when none names a
    /// family.
    public init?(jinja: String?, override: ChatTemplateFamily? = nil, vocabulary: [String] = []) {
        guard let family = override ?? ChatTemplateFamily.detect(template: jinja, vocabulary: vocabulary) else {
            return nil
        }
        self.init(family: family, defaultSystemPrompt: ChatTemplate.defaultSystemPrompt(in: jinja))
    }

    /// The system prompt a ChatML Jinja template inserts when the first message is not a system one:
    /// the text of a literal `<|im_start|>system\n...<|im_end|>` guarded by a `!= 'system'` test.
    static func defaultSystemPrompt(in jinja: String?) -> String? {
        guard let jinja, jinja.contains("!= 'system'") || jinja.contains("!= \"system\"") else { return nil }
        let opening = "<|im_start|>system\n"
        guard let start = jinja.firstRange(of: opening),
            let end = jinja[start.upperBound...].firstRange(of: "<|im_end|>")
        else { return nil }
        let text = jinja[start.upperBound..<end.lowerBound]
        // A Jinja expression here (e.g. `' + message['content'] + '`) means it is not a literal prompt.
        guard !text.contains("'"), !text.contains("\""), !text.contains("{"), !text.isEmpty else { return nil }
        return String(text)
    }

    /// The prompt for `turns`.
    /// - Parameter addGenerationPrompt: end with the opening of an assistant turn, for the model to continue.
    public func render(_ turns: [ChatTurn], addGenerationPrompt: Bool) -> String {
        switch family {
        case .chatml: renderChatML(turns, addGenerationPrompt)
        case .llama3: renderLlama3(turns, addGenerationPrompt)
        case .llama2: renderLlama2(turns)
        case .mistral: renderMistral(turns)
        case .gemma: renderGemma(turns, addGenerationPrompt)
        case .zephyr: renderZephyr(turns, addGenerationPrompt)
        }
    }

    private func renderChatML(_ turns: [ChatTurn], _ addGenerationPrompt: Bool) -> String {
        var out = ""
        if let defaultSystemPrompt, let first = turns.first, first.role != .system {
            out += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
        }
        for turn in turns { out += "<|im_start|>\(turn.role.rawValue)\n\(turn.content)<|im_end|>\n" }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }

    private func renderLlama3(_ turns: [ChatTurn], _ addGenerationPrompt: Bool) -> String {
        var out = ""
        for turn in turns {
            out += "<|start_header_id|>\(turn.role.rawValue)<|end_header_id|>\n\n\(content(turn.content))<|eot_id|>"
        }
        if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return out
    }

    /// llama.cpp's `llama2` format: the assistant's turn is always what comes next, so there is no
    /// separate generation prompt.
    private func renderLlama2(_ turns: [ChatTurn]) -> String {
        var out = "[INST] "
        var insideTurn = true
        for turn in turns {
            if !insideTurn {
                insideTurn = true
                out += "[INST] "
            }
            switch turn.role {
            case .system: out += turn.content + "\n"
            case .user: out += turn.content + " [/INST]"
            case .assistant:
                out += turn.content + "</s>"
                insideTurn = false
            }
        }
        return out
    }

    /// llama.cpp's `mistral-v3`: like `llama2` the assistant's turn always comes next.
    private func renderMistral(_ turns: [ChatTurn]) -> String {
        var out = ""
        var insideTurn = false
        for turn in turns {
            if !insideTurn {
                insideTurn = true
                out += "[INST] "
            }
            switch turn.role {
            case .system: out += turn.content + "\n\n"
            case .user: out += turn.content + "[/INST]"
            case .assistant:
                out += " " + content(turn.content, role: .assistant) + "</s>"
                insideTurn = false
            }
        }
        return out
    }

    private func renderGemma(_ turns: [ChatTurn], _ addGenerationPrompt: Bool) -> String {
        var out = ""
        var system = ""
        for turn in turns {
            if turn.role == .system {
                system += content(turn.content)
                continue
            }
            let role = turn.role == .assistant ? "model" : turn.role.rawValue
            out += "<start_of_turn>\(role)\n"
            if !system.isEmpty && turn.role != .assistant {
                out += system + "\n\n"
                system = ""
            }
            out += content(turn.content) + "<end_of_turn>\n"
        }
        if addGenerationPrompt { out += "<start_of_turn>model\n" }
        return out
    }

    private func renderZephyr(_ turns: [ChatTurn], _ addGenerationPrompt: Bool) -> String {
        var out = ""
        for turn in turns { out += "<|\(turn.role.rawValue)|>\n\(turn.content)<|endoftext|>\n" }
        if addGenerationPrompt { out += "<|assistant|>\n" }
        return out
    }

    /// A turn's content as `render` writes it: Llama 3 and Gemma strip the whitespace around it, and
    /// Mistral around the assistant's, as llama.cpp does; the other formats keep it as it is.
    public func content(_ text: String, role: ChatRole = .user) -> String {
        switch family {
        case .llama3, .gemma: trim(text)
        case .mistral: role == .assistant ? trim(text) : text
        case .chatml, .llama2, .zephyr: text
        }
    }

    /// Strips leading and trailing whitespace (space, tab, newline, CR), as llama.cpp's `trim` does.
    private func trim(_ text: String) -> String {
        let blank: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"]
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !blank.contains($0) }),
            let last = scalars.lastIndex(where: { !blank.contains($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
