// Turns generated token ids into text as they arrive, without ever emitting half a UTF-8 character:
// a token can end in the middle of a multi-byte character (emoji and CJK often span two or three
// byte-level tokens), so the trailing bytes of an incomplete character wait for the next token.
// Bytes that can never become a valid character are emitted as U+FFFD, as `String(decoding:)` does.

/// Incremental decoder for one generation stream.
public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let renderSpecial: Bool
    private var pending: [UInt8] = []

    /// - Parameters:
    ///   - tokenizer: the tokenizer whose ids will be appended.
    ///   - renderSpecial: include the text of control tokens (off for chat output).
    public init(tokenizer: Tokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        tokenizer.appendBytes(of: id, renderSpecial: renderSpecial, to: &pending)
        let complete = StreamingDecoder.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Ends the stream: returns whatever is left, with an unfinished character as U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// The length of the longest prefix of `bytes` that does not end inside a character that could
    /// still be completed by more bytes.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        // Find the start of the last character: at most 3 continuation bytes back.
        var start = bytes.count
        var continuation = 0
        while start > 0 && continuation < 4 {
            let byte = bytes[start - 1]
            if byte & 0xC0 != 0x80 { break }
            start -= 1
            continuation += 1
        }
        guard start > 0 else { return bytes.count }  // only continuation bytes: invalid, emit now
        let lead = bytes[start - 1]
        let expected: Int
        switch lead {
        case 0xC2...0xDF: expected = 1
        case 0xE0...0xEF: expected = 2
        case 0xF0...0xF4: expected = 3
        default: return bytes.count  // ASCII or an invalid lead byte: nothing to wait for
        }
        if continuation >= expected { return bytes.count }
        // Still incomplete: wait, unless the bytes so far already rule out a valid character.
        if continuation >= 1 {
            let second = bytes[start]
            let valid: Bool =
                switch lead {
                case 0xE0: second >= 0xA0
                case 0xED: second <= 0x9F
                case 0xF0: second >= 0x90
                case 0xF4: second <= 0x8F
                default: true
                }
            if !valid { return bytes.count }
        }
        return start - 1
    }
}
