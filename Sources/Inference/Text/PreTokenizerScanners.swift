// The scanners behind each pre-tokenizer rule. Each one walks one piece of text left to right and
// appends the lengths of the words it cuts; together the words always cover the piece exactly.
// They follow the regexes' leftmost-first alternation: at each position the first alternative that
// matches wins. Positions outside the piece read as "nothing" (no class), as the end of the text
// does for the regex; that is what makes `\s+(?!\S)` take a trailing run of spaces whole.

/// Code points with their classes, computed once for all rules.
struct ClassifiedText {
    let scalars: [Unicode.Scalar]
    let classes: [ScalarClass]

    func piece(_ start: Int, _ end: Int) -> Piece { Piece(text: self, start: start, end: end) }
}

/// One piece `[start, end)` being cut by a rule.
struct Piece {
    let text: ClassifiedText
    let start: Int
    let end: Int

    /// The code point value at `position`, or nil outside the piece.
    private func value(_ position: Int) -> UInt32? {
        position >= start && position < end ? text.scalars[position].value : nil
    }

    /// The classes at `position`; empty outside the piece.
    private func classes(_ position: Int) -> ScalarClass {
        position >= start && position < end ? text.classes[position] : []
    }

    /// Whether `position` is inside the piece.
    private func inside(_ position: Int) -> Bool { position >= start && position < end }

    /// `[^\s\p{L}\p{N}]`: inside the piece and neither whitespace, letter nor number.
    private func isOther(_ position: Int) -> Bool {
        inside(position) && classes(position).isDisjoint(with: [.whitespace, .letter, .number])
    }

    private static let apostrophe = UInt32(UInt8(ascii: "'"))
    private static let space = UInt32(UInt8(ascii: " "))
    private static let cr = UInt32(UInt8(ascii: "\r"))
    private static let lf = UInt32(UInt8(ascii: "\n"))

    /// The length of a contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at `position`, or 0.
    private func contraction(at position: Int, caseInsensitive: Bool) -> Int {
        guard value(position) == Piece.apostrophe, let first = value(position + 1) else { return 0 }
        func lower(_ v: UInt32?) -> UInt32? {
            guard let v else { return nil }
            return caseInsensitive && v >= 65 && v <= 90 ? v + 32 : v
        }
        let a = lower(first)
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }  // s t m d
        let b = lower(value(position + 2))
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }  // re ve ll
        return 0
    }

    /// The number of whitespace code points starting at `position`.
    private func whitespaceRun(at position: Int) -> Int {
        var count = 0
        while classes(position + count).contains(.whitespace) { count += 1 }
        return count
    }

    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`, then any single
    /// code point no alternative matches (regex splitting keeps unmatched text as its own piece).
    func splitGPT2(into lengths: inout [Int]) {
        var position = start
        while position < end {
            let wordStart = position
            defer { lengths.append(position - wordStart) }
            let contractionLength = contraction(at: position, caseInsensitive: false)
            if contractionLength > 0 {
                position += contractionLength
                continue
            }
            let leadingSpace = value(position) == Piece.space ? 1 : 0
            let head = position + leadingSpace
            if classes(head).contains(.letter) {
                position = head
                while classes(position).contains(.letter) { position += 1 }
                continue
            }
            if classes(head).contains(.number) {
                position = head
                while classes(position).contains(.number) { position += 1 }
                continue
            }
            if isOther(head) {
                position = head
                while isOther(position) { position += 1 }
                continue
            }
            let spaces = whitespaceRun(at: position)
            if spaces > 1 && inside(position + spaces) {
                position += spaces - 1  // `\s+(?!\S)`: leave the last space to lead the next word
            } else if spaces > 0 {
                position += spaces
            } else {
                position += 1
            }
        }
    }

    /// Llama 3 (maxDigits 3) and Qwen 2 (maxDigits 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|
    /// \s*[\r\n]+|\s+(?!\S)|\s+`.
    func splitLlama3(maxDigits: Int, into lengths: inout [Int]) {
        var position = start
        while position < end {
            let wordStart = position
            defer { lengths.append(position - wordStart) }
            let contractionLength = contraction(at: position, caseInsensitive: true)
            if contractionLength > 0 {
                position += contractionLength
                continue
            }
            let here = value(position)
            let hereClasses = classes(position)
            if here != Piece.cr && here != Piece.lf && !hereClasses.contains(.number)
                && (hereClasses.contains(.letter) || classes(position + 1).contains(.letter))
            {
                position += 1
                while classes(position).contains(.letter) { position += 1 }
                continue
            }
            if hereClasses.contains(.number) {
                while position - wordStart < maxDigits && classes(position).contains(.number) { position += 1 }
                continue
            }
            let head = position + (here == Piece.space ? 1 : 0)
            if isOther(head) {
                position = head
                while isOther(position) { position += 1 }
                while value(position) == Piece.cr || value(position) == Piece.lf { position += 1 }
                continue
            }
            let spaces = whitespaceRun(at: position)
            var lastLineBreakEnd = 0
            for offset in 0..<spaces where value(position + offset) == Piece.cr || value(position + offset) == Piece.lf
            {
                lastLineBreakEnd = position + offset + 1
            }
            if lastLineBreakEnd > 0 {
                position = lastLineBreakEnd  // `\s*[\r\n]+`
            } else if spaces > 1 && inside(position + spaces) {
                position += spaces - 1  // `\s+(?!\S)`
            } else if spaces > 0 {
                position += spaces
            } else {
                position += 1
            }
        }
    }

    /// Isolates runs described by `run`; the text between runs stays one piece.
    func splitRuns(_ run: PreTokenizer.Run, into lengths: inout [Int]) {
        let (minimum, maximum): (Int, Int) =
            switch run {
            case .numbers(let unbounded): (1, unbounded ? Int.max : 1)
            case .asciiDigitTriples: (3, 3)
            case .punctuation: (1, Int.max)
            }
        func matches(_ position: Int) -> Bool {
            guard let v = value(position) else { return false }
            switch run {
            case .numbers: return classes(position).contains(.number)
            case .asciiDigitTriples: return v >= 0x30 && v <= 0x39
            case .punctuation:
                return classes(position).contains(.punctuation) || "$+<=>^~|".unicodeScalars.contains { $0.value == v }
            }
        }
        var gapStart = start
        var position = start
        while position < end {
            var length = 0
            while length < maximum && matches(position + length) { length += 1 }
            guard length >= minimum else {
                position += 1
                continue
            }
            if position > gapStart { lengths.append(position - gapStart) }
            lengths.append(length)
            position += length
            gapStart = position
        }
        if end > gapStart { lengths.append(end - gapStart) }
    }
}
