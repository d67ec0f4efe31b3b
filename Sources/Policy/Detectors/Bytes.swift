// Byte classes shared by the hand-written scanners. Detectors work on the UTF-8 bytes of a message:
// every identifier they look for is ASCII, and byte offsets make spans cheap and exact.

enum Bytes {
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isUpper(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
    static func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }
    static func isAlpha(_ b: UInt8) -> Bool { isUpper(b) || isLower(b) }
    static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) }
    /// A word character for keyword boundaries; non-ASCII bytes count as letters so that a keyword
    /// never matches inside an accented word.
    static func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x5F || b >= 0x80 }
    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0C }
    static func lower(_ b: UInt8) -> UInt8 { isUpper(b) ? b | 0x20 : b }
    static func value(_ b: UInt8) -> Int { Int(b) - 0x30 }

    /// The first index from `start` holding `byte`, or `bytes.count`: the scanners' skip between
    /// anchors, a tight loop without bounds checks.
    static func firstIndex(of byte: UInt8, in bytes: [UInt8], from start: Int) -> Int {
        bytes.withUnsafeBufferPointer { text in
            var i = start
            while i < text.count, text[i] != byte { i += 1 }
            return i
        }
    }
}

/// A set of bytes as a 256-bit map; used by the pattern engine's character classes.
struct ByteSet: Sendable, Hashable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    static func == (l: ByteSet, r: ByteSet) -> Bool {
        l.words.0 == r.words.0 && l.words.1 == r.words.1 && l.words.2 == r.words.2 && l.words.3 == r.words.3
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    /// Bits 64 * `index` ..< 64 * (`index` + 1) of the map, lowest byte in bit 0.
    func word(_ index: Int) -> UInt64 {
        switch index {
        case 0: words.0
        case 1: words.1
        case 2: words.2
        default: words.3
        }
    }

    mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    mutating func insert(range: ClosedRange<UInt8>) {
        for b in range { insert(b) }
    }

    mutating func formUnion(_ other: ByteSet) {
        words = (words.0 | other.words.0, words.1 | other.words.1, words.2 | other.words.2, words.3 | other.words.3)
    }

    func inverted() -> ByteSet {
        var result = ByteSet()
        result.words = (~words.0, ~words.1, ~words.2, ~words.3)
        return result
    }

    var isEmpty: Bool { words.0 == 0 && words.1 == 0 && words.2 == 0 && words.3 == 0 }

    /// Adds the other case of every ASCII letter in the set.
    func caseFolded() -> ByteSet {
        var result = self
        for b in UInt8(ascii: "A")...UInt8(ascii: "Z") where contains(b) || contains(b | 0x20) {
            result.insert(b)
            result.insert(b | 0x20)
        }
        return result
    }

    static let digits: ByteSet = {
        var s = ByteSet()
        s.insert(range: 0x30...0x39)
        return s
    }()

    static let word: ByteSet = {
        var s = digits
        s.insert(range: 0x41...0x5A)
        s.insert(range: 0x61...0x7A)
        s.insert(0x5F)
        return s
    }()

    static let space: ByteSet = {
        var s = ByteSet()
        for b: UInt8 in [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C] { s.insert(b) }
        return s
    }()

    static let any: ByteSet = ByteSet().inverted()
}
