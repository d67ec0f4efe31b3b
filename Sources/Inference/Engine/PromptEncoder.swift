// PromptEncoder: turns a conversation into token ids through the chat template, such that only the
// template's own markers can become control tokens. Each turn's content is encoded with special-token
// parsing off, so a user who types "<|im_start|>" gets those characters, not a turn boundary; otherwise
// the prompt is tokenized as one text, as llama.cpp tokenizes the rendered template.

/// Renders and tokenizes conversations for one model.
public struct PromptEncoder: Sendable {
    public let tokenizer: Tokenizer
    public let template: ChatTemplate

    public init(tokenizer: Tokenizer, template: ChatTemplate) {
        self.tokenizer = tokenizer
        self.template = template
    }

    /// Private-use characters that mark where each turn's content goes in the rendered template.
    private static let marker: Character = "\u{F8FF}"

    /// The prompt ids for `turns`, ending with the template's generation prompt.
    public func encode(_ turns: [ChatTurn]) -> [Int32] { encodeMarkingPrefix(turns).ids }

    /// The prompt ids for `turns`, and how many of them depend on the system turn alone (the template's
    /// opening and the system prompt, up to its content's end; 0 when the first turn is not a system
    /// turn): conversations with the same system prompt share these ids, and the engine evaluates them
    /// as a batch of their own so that their keys and values can serve every such conversation.
    func encodeMarkingPrefix(_ turns: [ChatTurn]) -> (ids: [Int32], sharedPrefix: Int) {
        let placeholders = turns.enumerated().map { i, turn in
            ChatTurn(role: turn.role, content: "\(Self.marker)\(i)\(Self.marker)")
        }
        let rendered = template.render(placeholders, addGenerationPrompt: true)
        var pieces: [(text: String, parseSpecial: Bool)] = []
        var systemPiece: Int?
        // Alternating pieces: template text, content index, template text, ...
        for (k, piece) in rendered.split(separator: Self.marker, omittingEmptySubsequences: false).enumerated() {
            if k % 2 == 1, let index = Int(piece), turns.indices.contains(index) {
                if index == 0, turns[0].role == .system { systemPiece = pieces.count }
                // The content as the template writes it (Llama 3, Gemma and Mistral trim some).
                pieces.append((template.content(turns[index].content, role: turns[index].role), false))
            } else {
                pieces.append((String(piece), true))
            }
        }
        let (ids, ends) = tokenizer.encode(pieces: pieces, addBOS: true)
        // Shareable only when the system prompt's ids cannot depend on what follows it.
        return (ids, systemPiece.flatMap { ends[$0] } ?? 0)
    }
}
