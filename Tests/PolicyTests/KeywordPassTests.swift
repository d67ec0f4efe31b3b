// The shared keyword pass (first-byte table, two-byte bitmap, branch-free boundary filter) against a
// brute-force reference written here: at every word boundary try every keyword, longest wins,
// matches do not overlap. Random texts over a small alphabet make keyword hits, phrases across runs
// of white space, one-byte keywords and the message's last byte common.
import Testing

@testable import Policy

/// The reference: one matcher's matches, found the slow and obvious way.
private func referenceMatches(_ phrases: [String], in text: [UInt8]) -> [(range: Range<Int>, label: Int)] {
    func isWord(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b >= 0x80
    }
    func isSpace(_ b: UInt8) -> Bool { [0x20, 0x09, 0x0A, 0x0D, 0x0C].contains(b) }
    // Keywords as lower-case words joined by single spaces.
    let keywords: [[UInt8]] = phrases.map { phrase in
        let lowered = phrase.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        let words = lowered.split(whereSeparator: isSpace)
        return Array(words.joined(separator: [0x20]))
    }
    func end(of keyword: [UInt8], at start: Int) -> Int? {
        var j = start
        for k in keyword {
            if k == 0x20 {
                guard j < text.count, isSpace(text[j]) else { return nil }
                while j < text.count, isSpace(text[j]) { j += 1 }
            } else {
                guard j < text.count, text[j] == k else { return nil }
                j += 1
            }
        }
        if let last = keyword.last, isWord(last), j < text.count, isWord(text[j]) { return nil }
        return j
    }
    var result: [(range: Range<Int>, label: Int)] = []
    var i = 0
    while i < text.count {
        var best: (end: Int, label: Int)?
        if i == 0 || !isWord(text[i - 1]) || !isWord(text[i]) {
            for (label, keyword) in keywords.enumerated() where !keyword.isEmpty {
                if let e = end(of: keyword, at: i), e > (best?.end ?? i) { best = (e, label) }
            }
        }
        if let best {
            result.append((i..<best.end, best.label))
            i = best.end
        } else {
            i += 1
        }
    }
    return result
}

@Suite struct KeywordPassTests {
    static let alphabet = Array("abcs #.-_\t\n\u{e9}".utf8)
    static let vocabulary = ["a", "ab", "abc", "b a", "ca", "c  b", "s#", "#a", "a.b", "-", "bca", "\u{e9}a", "cc c"]

    @Test func sharedPassMatchesBruteForceReference() {
        var r = SeededRandom(seed: 31)
        for round in 0..<200 {
            // Between 1 and 70 lists, so some rounds go past the 64 lists the masks can name.
            let lists = (0..<(round % 25 == 0 ? 70 : r.int(1...4))).map { _ in
                (0..<r.int(1...4)).map { _ in Self.vocabulary[r.int(0...(Self.vocabulary.count - 1))] }
            }
            let pass = KeywordPass(lists.map { KeywordMatcher(labelled: $0.enumerated().map { ($1, $0) }) })
            for _ in 0..<20 {
                let text = (0..<r.int(0...40)).map { _ in Self.alphabet[r.int(0...(Self.alphabet.count - 1))] }
                let found = pass.matches(in: text)
                for (m, list) in lists.enumerated() {
                    let expected = referenceMatches(list, in: text)
                    #expect(found[m].map(\.range) == expected.map(\.range), "list \(list)")
                    #expect(found[m].map(\.label) == expected.map(\.label), "list \(list)")
                }
            }
        }
    }
}
