// The detectors' fast paths against references written here from what each is meant to do: the
// eight-bytes-at-a-time scans (first digit, first of one or two bytes) against a plain search; the
// one-pass normalisation of ASCII text against "every run of white space becomes one space, or one
// line break if it holds one; letters in lower case"; and the pattern scan that skips to word starts
// and to the pattern's first bytes against a hand-written matcher for one `\b` pattern. Random
// inputs over small alphabets make the interesting cases (runs, boundaries, word ends) common.
import Testing

@testable import Policy

@Suite struct DetectorFastPathTests {
    @Test func byteScansAgreeWithPlainSearch() {
        var r = SeededRandom(seed: 47)
        let alphabet = Array("09/:@amM _\u{e9}".utf8) + [0x2F, 0x3A, 0x40, 0x80, 0xFF, 0x00]
        for _ in 0..<3000 {
            let text = (0..<r.int(0...40)).map { _ in r.pick(alphabet) }
            let start = r.int(0...text.count)
            let a = r.pick(alphabet)
            let b = r.pick(alphabet)
            let digit = text[start...].firstIndex { $0 >= 0x30 && $0 <= 0x39 } ?? text.count
            let ofA = text[start...].firstIndex(of: a) ?? text.count
            let ofEither = text[start...].firstIndex { $0 == a || $0 == b } ?? text.count
            text.withUnsafeBufferPointer { buffer in
                #expect(Bytes.firstDigit(buffer, from: start) == digit, "\(text) from \(start)")
                #expect(Bytes.firstIndex(of: a, or: b, in: buffer, from: start) == ofEither, "\(text) \(a) \(b)")
            }
            #expect(Bytes.firstIndex(of: a, in: text, from: start) == ofA, "\(text) \(a) from \(start)")
        }
    }

    /// ASCII text as the detectors should read it: each maximal run of white space (space, tab,
    /// line break, carriage return, vertical tab, form feed) is one byte, a line break if the run
    /// holds one, else a space; capital letters are folded.
    private static func referenceNormalised(_ text: [UInt8]) -> (bytes: [UInt8], lowered: [UInt8]) {
        var bytes: [UInt8] = []
        var i = 0
        while i < text.count {
            guard [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains(text[i]) else {
                bytes.append(text[i])
                i += 1
                continue
            }
            var hasBreak = false
            while i < text.count, [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains(text[i]) {
                hasBreak = hasBreak || text[i] == 0x0A || text[i] == 0x0D
                i += 1
            }
            bytes.append(hasBreak ? 0x0A : 0x20)
        }
        return (bytes, bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 })
    }

    @Test func normalisationOfASCIIMatchesReference() {
        var r = SeededRandom(seed: 53)
        let alphabet = Array("aZ@[`{ \n\t\r\u{b}\u{c}1-".utf8)
        for round in 0..<3000 {
            // Half the rounds without tabs and doubled spaces, so the pass that rewrites nothing is taken.
            let letters = round % 2 == 0 ? Array("aZ@[`{ 1-".utf8) : alphabet
            var text = (0..<r.int(0...30)).map { _ in r.pick(letters) }
            if round % 2 == 0 {
                text = text.enumerated().map { k, b in k > 0 && b == 0x20 && text[k - 1] == 0x20 ? 0x2D : b }
            }
            let normalised = NormalizedText(text)
            let expected = Self.referenceNormalised(text)
            #expect(normalised.bytes == expected.bytes, "\(text)")
            #expect(normalised.lowered == expected.lowered, "\(text)")
            #expect(normalised.original(0..<normalised.bytes.count) == 0..<text.count, "\(text)")
        }
    }

    /// `\bmrn[-: ]?\d{2,4}\b` case-insensitively, by hand: at each word start, the longest way to
    /// read "mrn", an optional separator, two to four digits and a word end; matches do not overlap.
    private static func referenceMRN(_ text: [UInt8]) -> [Range<Int>] {
        func isWord(_ k: Int) -> Bool {
            guard k >= 0, k < text.count else { return false }
            let b = text[k]
            return (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x5F
        }
        func isDigit(_ k: Int) -> Bool { k < text.count && text[k] >= 0x30 && text[k] <= 0x39 }
        var result: [Range<Int>] = []
        var i = 0
        while i < text.count {
            var end: Int?
            if !isWord(i - 1), i + 3 <= text.count, text[i..<(i + 3)].map({ $0 | 0x20 }) == Array("mrn".utf8) {
                let afterLabel = [i + 3] + (i + 3 < text.count && "-: ".utf8.contains(text[i + 3]) ? [i + 4] : [])
                for digitsStart in afterLabel {
                    var k = digitsStart
                    while k - digitsStart < 4, isDigit(k) {
                        k += 1
                        if k - digitsStart >= 2, !isWord(k) { end = max(end ?? 0, k) }
                    }
                }
            }
            if let end {
                result.append(i..<end)
                i = end
            } else {
                i += 1
            }
        }
        return result
    }

    @Test func wordStartPatternScanMatchesReference() throws {
        let pattern = try Pattern(#"\bmrn[-: ]?\d{2,4}\b"#, caseInsensitive: true)
        #expect(pattern.startsAtWordBoundary)
        var r = SeededRandom(seed: 59)
        let pieces = ["m", "M", "r", "R", "n", "N", "mrn", "MRN", "1", "23", "4567", " ", "-", ":", "x", "_", "\u{e9}"]
        for _ in 0..<3000 {
            let text = Array((0..<r.int(0...16)).map { _ in r.pick(pieces) }.joined().utf8)
            var budget = DetectorSuite.stepBudget
            #expect(try pattern.matches(in: text, budget: &budget) == Self.referenceMRN(text), "\(text)")
        }
    }
}
