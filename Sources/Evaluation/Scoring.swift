// Scoring one reply against an item's expectation. Every scorer is deterministic and local except the
// rubric, whose judge call the runner makes through ChatCore like any other model call (policy-gated,
// audited); this file only builds the judge's prompt and reads its verdict.
import Foundation

/// Scoring rules, all pure.
public enum Scoring {
    /// The score in 0...1 of `reply` under `scorer`; nil for `rubric` (a judge must rate it).
    public static func score(_ reply: String, _ scorer: Scorer) -> Double? {
        switch scorer {
        case .exact(let expected):
            return pass(reply.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
        case .normalized(let expected):
            return pass(normalize(reply) == normalize(expected))
        case .containsAll(let phrases):
            let text = normalize(reply)
            return pass(phrases.allSatisfy { text.contains(normalize($0)) })
        case .containsAny(let phrases):
            let text = normalize(reply)
            return pass(phrases.contains { text.contains(normalize($0)) })
        case .regex(let pattern):
            guard let expression = try? NSRegularExpression(pattern: pattern) else { return 0 }
            let range = NSRange(reply.startIndex..., in: reply)
            return pass(expression.firstMatch(in: reply, range: range) != nil)
        case .number(let value, let tolerance):
            guard let found = numbers(in: reply).last else { return 0 }
            return pass(abs(found - value) <= tolerance + 1e-9 * max(1, abs(value)))
        case .choice(let letter):
            return pass(choiceLetter(reply) == letter)
        case .jsonFields(let fields):
            guard let object = firstJSONObject(in: reply) else { return 0 }
            let matched = fields.filter { path, expected in matches(value(at: path, in: object), expected) }.count
            return Double(matched) / Double(fields.count)
        case .rubric:
            return nil
        }
    }

    private static func pass(_ ok: Bool) -> Double { ok ? 1 : 0 }

    // The fixed patterns are compiled once: compiling one costs more than the rest of scoring an item (ICU
    // builds the matcher), and an NSRegularExpression is immutable and safe to share between tasks.

    /// A number as `numbers(in:)` reads it: `1,234.50`, `-7`, `42`.
    private static let numberPattern = fixedPattern(#"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"#)

    /// Where a reply names its choice, most telling first: a letter at its start (`B`, `(B)`, `B)`, `B.`;
    /// not an article such as "A patient"), after "answer", in parentheses.
    private static let choicePatterns = [
        #"^\s*\(?([A-H])(?:[).:,]|\s*$)"#, #"(?i:answer)(?:\s+is)?\s*:?\s*\(?([A-H])\b"#, #"\(([A-H])\)"#,
    ].map(fixedPattern)

    /// Compiles one of this file's own patterns (a literal, checked by the scoring tests).
    private static func fixedPattern(_ pattern: String) -> NSRegularExpression {
        do {
            return try NSRegularExpression(pattern: pattern)
        } catch {
            preconditionFailure("Scoring's pattern \(pattern) does not compile: \(error)")
        }
    }

    /// Lower case, white space collapsed to one space, punctuation trimmed from both ends.
    public static func normalize(_ text: String) -> String {
        let words = text.lowercased().split(whereSeparator: { $0.isWhitespace })
        return words.joined(separator: " ").trimmingCharacters(in: .punctuationCharacters.union(.whitespaces))
    }

    /// The numbers written in `text`, in order; `1,234.50` is 1234.5, a leading minus sign counts.
    public static func numbers(in text: String) -> [Double] {
        let range = NSRange(text.startIndex..., in: text)
        return numberPattern.matches(in: text, range: range).compactMap { match in
            Range(match.range, in: text).flatMap { Double(text[$0].replacingOccurrences(of: ",", with: "")) }
        }
    }

    /// The choice a reply makes: a letter A-H at its start (`B`, `(B)`, `B)`, `B.`; not an article such as
    /// "A patient"), else after "answer", else the first parenthesised letter.
    public static func choiceLetter(_ reply: String) -> String? {
        for expression in choicePatterns {
            let range = NSRange(reply.startIndex..., in: reply)
            if let match = expression.firstMatch(in: reply, range: range),
                let found = Range(match.range(at: 1), in: reply)
            {
                return String(reply[found])
            }
        }
        return nil
    }

    /// The first balanced `{...}` of `text` that parses as a JSON object.
    static func firstJSONObject(in text: String) -> [String: JSONNode]? {
        let characters = Array(text.utf8)
        var start = characters.firstIndex(of: UInt8(ascii: "{"))
        while let begin = start {
            var depth = 0
            var inString = false
            var escaped = false
            var index = begin
            while index < characters.count {
                let byte = characters[index]
                if inString {
                    if escaped {
                        escaped = false
                    } else if byte == UInt8(ascii: "\\") {
                        escaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                    }
                } else if byte == UInt8(ascii: "\"") {
                    inString = true
                } else if byte == UInt8(ascii: "{") {
                    depth += 1
                } else if byte == UInt8(ascii: "}") {
                    depth -= 1
                    if depth == 0 { break }
                }
                index += 1
            }
            if index < characters.count,
                let node = try? JSONDecoder().decode(JSONNode.self, from: Data(characters[begin...index])),
                case .object(let object) = node
            {
                return object
            }
            start = characters[(begin + 1)...].firstIndex(of: UInt8(ascii: "{"))
        }
        return nil
    }

    private static func value(at path: String, in object: [String: JSONNode]) -> JSONNode? {
        var current: JSONNode = .object(object)
        for key in path.split(separator: ".") {
            guard case .object(let map) = current, let next = map[String(key)] else { return nil }
            current = next
        }
        return current
    }

    /// A field matches when equal as normalised text, or as numbers (a number written as text counts).
    private static func matches(_ found: JSONNode?, _ expected: JSONValue) -> Bool {
        guard let found else { return false }
        switch (found, expected) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return abs(a - b) <= 1e-9 * max(1, abs(b))
        case (.string(let a), .number(let b)): return numbers(in: a).count == 1 && numbers(in: a)[0] == b
        case (.string(let a), .string(let b)): return normalize(a) == normalize(b)
        case (.number(let a), .string(let b)): return Double(b).map { abs($0 - a) <= 1e-9 * max(1, abs(a)) } ?? false
        default: return false
        }
    }

    // MARK: The rubric judge

    /// The message sent to the judge: the rubric, the reference, the question and the answer, and the
    /// instruction to reply with one digit.
    public static func judgePrompt(question: String, reply: String, rubric: String, reference: String) -> String {
        """
        You grade an answer. Rubric: \(rubric)
        Reference answer: \(reference)
        Question: \(question)
        Answer to grade: \(reply)
        Rate the answer from 1 (wrong) to 5 (fully meets the rubric). Reply with the digit only.
        """
    }

    /// The judge's rating mapped to 0...1 (1 → 0, 5 → 1); nil when the judge gave no digit 1-5.
    public static func judgeScore(_ verdict: String) -> Double? {
        guard let digit = verdict.first(where: { ("1"..."5").contains($0) }), let value = Int(String(digit)) else {
            return nil
        }
        return Double(value - 1) / 4
    }
}
