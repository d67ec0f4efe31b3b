// Admin-defined patterns (e.g. medical record numbers `MRN[-: ]?\d{7}`), compiled to a Thompson NFA
// and run by a Pike VM: time is linear in the message for any pattern, so an admin's typo can never
// become catastrophic backtracking on a user's message. The syntax is the common regex subset:
//
//   literals and escapes \. \- \\ ...     classes [a-z0-9_] [^...] \d \D \w \W \s \S .
//   groups ( ) (?: )   alternation |      quantifiers ? * + {m} {m,} {m,n} (m, n <= 32)
//   assertions \b \B ^ $
//
// Back-references and look-arounds are rejected at load, with the column of the offending part.

/// A compiled pattern; Sendable and immutable, shared by every message.
struct Pattern: Sendable {
    enum Instruction: Sendable {
        case bytes(ByteSet, next: Int)
        case split(Int, Int)
        case jump(Int)
        case wordBoundary(Bool, next: Int)
        case lineStart(next: Int)
        case lineEnd(next: Int)
        case match
    }

    struct SyntaxError: Error {
        /// 0-based byte offset into the pattern.
        var offset: Int
        var message: String
    }

    let program: [Instruction]
    /// Bytes that can begin a match (all bytes when the pattern can start with an assertion or be empty).
    let firstBytes: ByteSet
    /// `firstBytes` as a lookup table, for the scan between candidate starts.
    let firstTable: [Bool]
    /// Bit `first << 8 | second` is set when a match can begin with those two bytes; the scan skips
    /// a candidate start whose next byte cannot continue it.
    let pairTable: [UInt64]
    /// Every match begins after a `\b` with a word byte, so only word starts are candidates.
    let startsAtWordBoundary: Bool
    /// When a match can begin with only one or two byte values (`m` and `M` for `\bMRN`), those
    /// values, so the scan between candidates can look at eight bytes at a time.
    let firstByteValues: (UInt8, UInt8)?
    /// Matches longer than this are not reported (identifiers are short); bounds re-scanning.
    static let maxMatchLength = 128
    static let maxProgramSize = 4000

    init(_ source: String, caseInsensitive: Bool) throws(SyntaxError) {
        var parser = PatternParser(Array(source.utf8), caseInsensitive: caseInsensitive)
        let tree = try parser.parse()
        var compiler = PatternCompiler()
        try compiler.emitProgram(tree)
        program = compiler.program
        firstBytes = compiler.firstBytes(from: 0)
        firstTable = (0...255).map { [firstBytes] in firstBytes.contains(UInt8($0)) }
        // Row `first` of the bitmap is the union of the byte sets that may follow `first`.
        var pairs = [UInt64](repeating: 0, count: 65_536 / 64)
        for (firsts, seconds) in compiler.firstPairs(from: 0) {
            for first in 0...255 where firsts.contains(UInt8(first)) {
                for w in 0..<4 { pairs[first * 4 + w] |= seconds.word(w) }
            }
        }
        pairTable = pairs
        var wordOnly = firstBytes
        wordOnly.formUnion(.word)
        startsAtWordBoundary = wordOnly == .word && compiler.startsAtWordBoundary(from: 0)
        let values = (0...255).map(UInt8.init).filter(firstBytes.contains)
        firstByteValues = values.count <= 2 && !values.isEmpty ? (values[0], values[values.count - 1]) : nil
    }
}

/// The parse tree of a pattern.
indirect enum PatternNode {
    case bytes(ByteSet)
    case sequence([PatternNode])
    case alternation([PatternNode])
    case repeatRange(PatternNode, min: Int, max: Int?)
    case wordBoundary(Bool)
    case lineStart
    case lineEnd
}

/// Recursive-descent parser over the pattern's bytes.
struct PatternParser {
    private let source: [UInt8]
    private let caseInsensitive: Bool
    private var position = 0
    private var depth = 0

    init(_ source: [UInt8], caseInsensitive: Bool) {
        self.source = source
        self.caseInsensitive = caseInsensitive
    }

    mutating func parse() throws(Pattern.SyntaxError) -> PatternNode {
        guard source.count <= 1000 else {
            throw Pattern.SyntaxError(offset: 0, message: "pattern longer than 1000 bytes")
        }
        let node = try alternation()
        if position < source.count {
            throw Pattern.SyntaxError(offset: position, message: "unbalanced ')'")
        }
        return node
    }

    private var atEnd: Bool { position >= source.count }
    private var current: UInt8 { source[position] }

    private mutating func alternation() throws(Pattern.SyntaxError) -> PatternNode {
        depth += 1
        defer { depth -= 1 }
        guard depth < 32 else { throw Pattern.SyntaxError(offset: position, message: "groups nested too deeply") }
        var branches = [try sequence()]
        while !atEnd, current == UInt8(ascii: "|") {
            position += 1
            branches.append(try sequence())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func sequence() throws(Pattern.SyntaxError) -> PatternNode {
        var items: [PatternNode] = []
        while !atEnd, current != UInt8(ascii: "|"), current != UInt8(ascii: ")") {
            var atom = try self.atom()
            while !atEnd, let (low, high) = try quantifier() {
                if case .wordBoundary = atom {
                    throw Pattern.SyntaxError(offset: position, message: "nothing to repeat")
                }
                atom = .repeatRange(atom, min: low, max: high)
            }
            items.append(atom)
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func quantifier() throws(Pattern.SyntaxError) -> (Int, Int?)? {
        let start = position
        switch current {
        case UInt8(ascii: "?"): position += 1; return (0, 1)
        case UInt8(ascii: "*"): position += 1; return (0, nil)
        case UInt8(ascii: "+"): position += 1; return (1, nil)
        case UInt8(ascii: "{"):
            position += 1
            guard let low = readNumber() else {
                throw Pattern.SyntaxError(offset: start, message: "expected a number after '{'")
            }
            var high: Int? = low
            if !atEnd, current == UInt8(ascii: ",") {
                position += 1
                high = readNumber()
            }
            guard !atEnd, current == UInt8(ascii: "}") else {
                throw Pattern.SyntaxError(offset: start, message: "unclosed '{'")
            }
            position += 1
            guard low <= 32, (high ?? low) <= 32, low <= (high ?? low) else {
                throw Pattern.SyntaxError(offset: start, message: "repetition counts must be ordered and at most 32")
            }
            return (low, high)
        default: return nil
        }
    }

    private mutating func readNumber() -> Int? {
        var value: Int? = nil
        while !atEnd, Bytes.isDigit(current), (value ?? 0) < 1000 {
            value = (value ?? 0) * 10 + Bytes.value(current)
            position += 1
        }
        return value
    }

    private func folded(_ set: ByteSet) -> ByteSet { caseInsensitive ? set.caseFolded() : set }

    private mutating func atom() throws(Pattern.SyntaxError) -> PatternNode {
        let start = position
        let b = current
        position += 1
        switch b {
        case UInt8(ascii: "("):
            if !atEnd, current == UInt8(ascii: "?") {
                guard position + 1 < source.count, source[position + 1] == UInt8(ascii: ":") else {
                    throw Pattern.SyntaxError(offset: start, message: "look-arounds and flags are not supported")
                }
                position += 2
            }
            let inner = try alternation()
            guard !atEnd, current == UInt8(ascii: ")") else {
                throw Pattern.SyntaxError(offset: start, message: "unclosed '('")
            }
            position += 1
            return inner
        case UInt8(ascii: "["): return .bytes(folded(try characterClass(start)))
        case UInt8(ascii: "."):
            var newline = ByteSet()
            newline.insert(0x0A)
            return .bytes(newline.inverted())
        case UInt8(ascii: "^"): return .lineStart
        case UInt8(ascii: "$"): return .lineEnd
        case UInt8(ascii: "\\"):
            guard !atEnd else { throw Pattern.SyntaxError(offset: start, message: "pattern ends with '\\'") }
            let e = current
            position += 1
            if e == UInt8(ascii: "b") { return .wordBoundary(true) }
            if e == UInt8(ascii: "B") { return .wordBoundary(false) }
            return .bytes(folded(try escape(e, at: start)))
        case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
            throw Pattern.SyntaxError(offset: start, message: "nothing to repeat")
        default:
            var set = ByteSet()
            set.insert(b)
            return .bytes(folded(set))
        }
    }

    private func escape(_ e: UInt8, at offset: Int) throws(Pattern.SyntaxError) -> ByteSet {
        switch e {
        case UInt8(ascii: "d"): return .digits
        case UInt8(ascii: "D"): return ByteSet.digits.inverted()
        case UInt8(ascii: "w"): return .word
        case UInt8(ascii: "W"): return ByteSet.word.inverted()
        case UInt8(ascii: "s"): return .space
        case UInt8(ascii: "S"): return ByteSet.space.inverted()
        case UInt8(ascii: "t"): var s = ByteSet(); s.insert(0x09); return s
        case UInt8(ascii: "n"): var s = ByteSet(); s.insert(0x0A); return s
        default:
            guard !Bytes.isAlnum(e) else {
                throw Pattern.SyntaxError(
                    offset: offset, message: "unsupported escape '\\\(Character(Unicode.Scalar(e)))'")
            }
            var s = ByteSet()
            s.insert(e)
            return s
        }
    }

    private mutating func characterClass(_ start: Int) throws(Pattern.SyntaxError) -> ByteSet {
        var set = ByteSet()
        var negate = false
        if !atEnd, current == UInt8(ascii: "^") {
            negate = true
            position += 1
        }
        var first = true
        while true {
            guard !atEnd else { throw Pattern.SyntaxError(offset: start, message: "unclosed '['") }
            var b = current
            if b == UInt8(ascii: "]"), !first { position += 1; break }
            first = false
            position += 1
            if b == UInt8(ascii: "\\") {
                guard !atEnd else { throw Pattern.SyntaxError(offset: start, message: "unclosed '['") }
                let e = current
                position += 1
                let escaped = try escape(e, at: position - 2)
                if e == UInt8(ascii: "d") || e == UInt8(ascii: "w") || e == UInt8(ascii: "s") || Bytes.isUpper(e) {
                    set.formUnion(escaped)
                    continue
                }
                b = e
            }
            if position + 1 < source.count, current == UInt8(ascii: "-"), source[position + 1] != UInt8(ascii: "]") {
                let high = source[position + 1]
                guard high >= b else { throw Pattern.SyntaxError(offset: position, message: "range out of order") }
                set.insert(range: b...high)
                position += 2
            } else {
                set.insert(b)
            }
        }
        return negate ? set.inverted() : set
    }
}
