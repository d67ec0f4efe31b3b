// Several keyword matchers run in one pass over a message: the built-in context words and every
// admin keyword list. The lookup tables are built once, when the policy loads, so a message only
// pays for the scan: at each word start a first-byte table and a first-two-bytes bitmap reject
// almost every word before any keyword is compared.

/// Keyword matchers prepared to share one pass over a message.
struct KeywordPass: Sendable {
    private let matchers: [KeywordMatcher]
    /// Which of the first 64 matchers have a keyword starting with each byte.
    private let interested: [UInt64]
    /// Bit `first << 8 | second` is set when some keyword can start with those two bytes (a keyword
    /// of one byte sets every second byte; a space in a keyword stands for every space byte).
    private let pairs: [UInt64]
    /// Matchers past the 64th, which the masks cannot name; each is scanned on its own.
    private let overflow: [Int]

    /// 1 for the bytes `Bytes.isWord` accepts, else 0.
    private static let wordBytes: [UInt8] = (0...255).map { Bytes.isWord(UInt8($0)) ? 1 : 0 }

    init(_ matchers: [KeywordMatcher]) {
        self.matchers = matchers
        var interested = [UInt64](repeating: 0, count: 256)
        var pairs = [UInt64](repeating: 0, count: 65_536 / 64)
        var overflow: [Int] = []
        let spaces = (0...255).map(UInt8.init).filter(Bytes.isSpace)
        for (m, matcher) in matchers.enumerated() where !matcher.isEmpty {
            guard m < 64 else {
                overflow.append(m)
                continue
            }
            for keyword in matcher.keywords {
                let first = Int(keyword[keyword.startIndex])
                interested[first] |= 1 << UInt64(m)
                let seconds: [UInt8]
                if keyword.count == 1 {
                    seconds = (0...255).map(UInt8.init)
                } else {
                    let second = keyword[keyword.startIndex + 1]
                    seconds = second == UInt8(ascii: " ") ? spaces : [second]
                }
                for second in seconds {
                    let key = first << 8 | Int(second)
                    pairs[key >> 6] |= 1 << UInt64(key & 63)
                }
            }
        }
        self.interested = interested
        self.pairs = pairs
        self.overflow = overflow
    }

    /// The matches of every matcher, each exactly as its own `labelledMatches(in:)` would report.
    /// - Parameter lowered: the message with ASCII letters folded to lower case.
    func matches(in lowered: [UInt8]) -> [[(range: Range<Int>, label: Int)]] {
        var results = [[(range: Range<Int>, label: Int)]](repeating: [], count: matchers.count)
        var next = [Int](repeating: 0, count: matchers.count)
        lowered.withUnsafeBufferPointer { text in
            pairs.withUnsafeBufferPointer { pairs in
                Self.wordBytes.withUnsafeBufferPointer { isWord in
                    let n = text.count
                    /// Runs every interested matcher at `i`, a position that passed the filters.
                    func visit(_ i: Int) {
                        var mask = interested[Int(text[i])]
                        while mask != 0 {
                            let m = mask.trailingZeroBitCount
                            mask &= mask - 1
                            guard i >= next[m], let found = matchers[m].longestMatch(text, at: i) else { continue }
                            results[m].append((i..<found.end, found.label))
                            next[m] = found.end
                        }
                    }
                    // Branch-free filter per byte: the two-byte bitmap (which implies a keyword starting
                    // with this byte) and the word boundary; only the rare survivors branch.
                    var previousIsWord: UInt64 = 0
                    for i in 0..<max(0, n - 1) {
                        let b = text[i]
                        let key = Int(b) << 8 | Int(text[i + 1])
                        let bit = pairs[key &>> 6] &>> UInt64(key & 63)
                        let isWordHere = UInt64(isWord[Int(b)])
                        if bit & ~(previousIsWord & isWordHere) & 1 != 0 { visit(i) }
                        previousIsWord = isWordHere
                    }
                    // The last byte has no second byte for the bitmap.
                    if n > 0, interested[Int(text[n - 1])] != 0,
                        n == 1 || isWord[Int(text[n - 2])] == 0 || isWord[Int(text[n - 1])] == 0
                    {
                        visit(n - 1)
                    }
                }
            }
            for m in overflow {
                var i = 0
                while i < text.count {
                    if i == 0 || !Bytes.isWord(text[i - 1]) || !Bytes.isWord(text[i]),
                        let found = matchers[m].longestMatch(text, at: i)
                    {
                        results[m].append((i..<found.end, found.label))
                        i = found.end
                    } else {
                        i += 1
                    }
                }
            }
        }
        return results
    }
}
