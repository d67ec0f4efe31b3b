// Tells whether a finished reply is a refusal ("I'm sorry, but I can't help with that"), so the call record
// can carry a flag instead of the text. It runs once per reply, at reply time, in `CallStream.finish`: the
// canary report then counts flags from the audit log and never needs a reply's words, and nothing about the
// reply but the flag and its length leaves this function (no log line, no audit text).
//
// The rule is deliberately simple and stated: after folding case and typographic apostrophes, one of the
// phrases below occurs, byte for byte, in the reply's opening `window` characters (a refusal says so up
// front; a long answer that mentions "I cannot" in its fourth paragraph is not one). The phrases are the
// usual English openings of assistant refusals; an organisation with other languages passes its own list.

/// Finds refusals in replies by their opening phrases.
public struct RefusalDetector: Sendable, Equatable {
    /// Lower-case phrases, apostrophes straight.
    public let phrases: [String]
    /// How many opening characters of the reply are searched.
    public let window: Int
    /// The phrases' UTF-8 bytes: the search compares bytes, since a character-wise `contains` for each
    /// phrase cost every reply of a busy server tens of microseconds.
    private let phraseBytes: [[UInt8]]

    public static let defaultPhrases = [
        "i can't help", "i cannot help", "i can't assist", "i cannot assist", "i can't provide", "i cannot provide",
        "i can't comply", "i cannot comply", "i won't be able to", "i will not be able to", "i am unable to",
        "i'm unable to", "i'm not able to", "i am not able to", "i must decline", "i have to decline",
        "i'm sorry, but i can't", "i'm sorry, but i cannot", "as an ai language model, i can't",
        "i can't do that", "i cannot do that",
    ]

    public init(phrases: [String] = Self.defaultPhrases, window: Int = 240) {
        self.phrases = phrases.map(Self.fold)
        self.window = window
        phraseBytes = self.phrases.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    /// Whether `reply` opens as a refusal.
    public func isRefusal(_ reply: String) -> Bool {
        let opening = Array(Self.fold(String(reply.prefix(window))).utf8)
        return phraseBytes.contains { Self.occurs($0, in: opening) }
    }

    /// Whether `needle` (not empty) occurs in `haystack`, byte for byte.
    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        let first = needle[0]
        for start in 0...(haystack.count - needle.count) where haystack[start] == first {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// Lower case, typographic apostrophes made straight, runs of white space made one space.
    static func fold(_ text: String) -> String {
        var folded = ""
        var lastWasSpace = false
        for character in text.lowercased() {
            if character.isWhitespace {
                if !lastWasSpace { folded.append(" ") }
                lastWasSpace = true
                continue
            }
            lastWasSpace = false
            folded.append(character == "\u{2019}" || character == "\u{2018}" ? "'" : character)
        }
        return folded
    }
}
