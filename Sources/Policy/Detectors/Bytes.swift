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
    /// anchors. Eight bytes at a time while none of them matches.
    static func firstIndex(of byte: UInt8, in bytes: [UInt8], from start: Int) -> Int {
        bytes.withUnsafeBufferPointer { text in
            var i = start
            if let base = text.baseAddress {
                let pattern = UInt64(byte) &* ones
                // A word holds `byte` exactly when `word ^ pattern` has a zero byte.
                while i + 8 <= text.count,
                    !hasZeroByte(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) ^ pattern)
                {
                    i += 8
                }
            }
            while i < text.count, text[i] != byte { i += 1 }
            return i
        }
    }

    /// The first index from `start` holding `a` or `b`, or `text.count`; eight bytes at a time while
    /// none of them matches.
    static func firstIndex(of a: UInt8, or b: UInt8, in text: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        if let base = text.baseAddress {
            let patternA = UInt64(a) &* ones
            let patternB = UInt64(b) &* ones
            while i + 8 <= text.count {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if hasZeroByte(w ^ patternA) || hasZeroByte(w ^ patternB) { break }
                i += 8
            }
        }
        while i < text.count, text[i] != a, text[i] != b { i += 1 }
        return i
    }

    /// The first index from `start` holding an ASCII digit, or `text.count`; eight bytes at a time
    /// while none of them is a digit.
    static func firstDigit(_ text: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        if let base = text.baseAddress {
            while i + 8 <= text.count, !hasDigit(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) { i += 8 }
        }
        while i < text.count, !isDigit(text[i]) { i += 1 }
        return i
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Whether one of the eight bytes of `w` is zero (the classic test: subtracting 1 from each byte
    /// borrows into bit 7 only below a zero byte or from a byte with bit 7 set, which `~w` removes).
    @inline(__always)
    private static func hasZeroByte(_ w: UInt64) -> Bool { (w &- ones) & ~w & highBits != 0 }

    /// Whether one of the eight bytes of `w` is `0`...`9`: with bit 7 cleared, adding 0x50 reaches
    /// bit 7 from 0x30 up and adding 0x46 from 0x3A up, and no byte carries into the next.
    @inline(__always)
    private static func hasDigit(_ w: UInt64) -> Bool {
        let low = w & ~highBits
        return (low &+ 0x50 &* ones) & ~(low &+ 0x46 &* ones) & ~w & highBits != 0
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
