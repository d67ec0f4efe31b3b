// The refusal detector's byte search against Foundation's literal search (the oracle) over generated
// replies built from pieces of the phrases, other words, case changes, typographic apostrophes, runs of
// white space, non-ASCII letters and lengths on both sides of the window.
import Foundation
import Routing
import Testing

@Suite struct RefusalDetectorTests {
    /// A small deterministic generator (SplitMix64), so a failure names a seed that reproduces it.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let pieces = [
        "I", "i", "can't", "CAN\u{2019}T", "cannot", "help", "assist", "I'm", "I\u{2019}m", "sorry,", "but", "unable",
        "to", "am", "not", "able", "decline", "must", "have", "do", "that", "won't", "be", "will", "as", "an", "AI",
        "language", "model,", "provide", "comply", "ward", "bed", "Ärztin", "naïve", "日本", "42", "x",
    ]
    static let gaps = [" ", "  ", "\t", "\n", " \u{00A0}", ""]

    static func reply(_ random: inout SplitMix) -> String {
        var text = ""
        let words = Int.random(in: 0...90, using: &random)
        for _ in 0..<words {
            text += pieces.randomElement(using: &random)!
            text += gaps.randomElement(using: &random)!
        }
        return text
    }

    /// The rule as the detector states it, searched with Foundation.
    static func oracle(_ detector: RefusalDetector, _ reply: String) -> Bool {
        var folded = ""
        var lastWasSpace = false
        for character in String(reply.prefix(detector.window)).lowercased() {
            if character.isWhitespace {
                if !lastWasSpace { folded += " " }
                lastWasSpace = true
            } else {
                lastWasSpace = false
                folded.append(character == "\u{2019}" || character == "\u{2018}" ? "'" : character)
            }
        }
        return detector.phrases.contains { !$0.isEmpty && folded.range(of: $0, options: .literal) != nil }
    }

    @Test func agreesWithALiteralSearchOnGeneratedReplies() {
        let detectors = [RefusalDetector(), RefusalDetector(window: 40), RefusalDetector(phrases: ["日本", "x", ""])]
        var refusals = 0
        for seed in 0..<3000 {
            var random = SplitMix(state: UInt64(seed))
            let reply = Self.reply(&random)
            for detector in detectors {
                let expected = Self.oracle(detector, reply)
                #expect(detector.isRefusal(reply) == expected, "seed \(seed) window \(detector.window)")
                if expected { refusals += 1 }
            }
        }
        // The generator must produce both kinds, or the comparison proves little.
        #expect(refusals > 500 && refusals < 8000, "\(refusals) refusals")
    }

    @Test func phrasesLongerThanTheOpeningAndEmptyRepliesAreNoRefusal() {
        let detector = RefusalDetector()
        #expect(!detector.isRefusal(""))
        #expect(!detector.isRefusal("I can"))
        #expect(detector.isRefusal("i can't help"))
        #expect(!RefusalDetector(window: 11).isRefusal("i can't help"))
    }
}
