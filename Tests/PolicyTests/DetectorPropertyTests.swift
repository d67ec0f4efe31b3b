// Property tests of the detectors on real-looking text. Each case is drawn from a case seed that
// swift-property-based generates and reports on failure (so any failing case can be replayed with
// its seed); from it, an identifier built from its specification (IdentifierSpecs) is rendered in a
// random format and placed in random context from a small grammar (adjacent digit groups, dates,
// amounts, phone numbers, CSV rows, JSON, markdown tables, URLs, line breaks). Properties:
// a valid identifier is found where it stands; the same with a broken checksum is not; ordinary
// numeric text (order numbers, versions, times, amounts, dates without a label) is not.
import Foundation
import PropertyBased
import Testing

@testable import Policy

/// One generated message and where the identifier stands in it (UTF-8 offsets).
struct PlacedIdentifier {
    var text: String
    var span: Range<Int>
}

enum ContextGrammar {
    static let words = [
        "please", "see below", "thanks", "for the refund", "as agreed", "re: invoice", "ok?", "urgent", "cc finance",
    ]

    /// Ordinary numeric text: order numbers, versions, times, amounts, quantities, dates with no label.
    static func ordinary(_ r: inout SeededRandom) -> String {
        switch r.int(0...9) {
        case 0: "ORD-20\(r.int(10...29))-\(r.int(100_000...999_999))"
        case 1: "v\(r.int(1...9)).\(r.int(0...30)).\(r.int(0...99))"
        case 2: "\(r.int(0...23)):\(r.int(10...59))"
        case 3: "£\(r.int(1...9)),\(r.int(100...999)).\(r.int(10...99))"
        case 4: "\(r.int(1...999)).\(r.int(10...99)) EUR"
        case 5: "\(r.int(1...28))/\(r.int(1...12))/20\(r.int(10...29))"
        case 6: "20\(r.int(10...29))-0\(r.int(1...9))-\(r.int(10...28))"
        case 7: "qty \(r.int(1...500)) x \(r.int(1...99))"
        case 8: "ticket #\(r.int(1000...99_999))"
        default: "room \(r.int(1...40))\(r.pick(["A", "B", ""]))"
        }
    }

    /// Context that stands right next to an identifier: digit groups, dates, amounts, phone numbers, words.
    static func neighbour(_ r: inout SeededRandom) -> String {
        switch r.int(0...7) {
        case 0: "\(r.int(1...12))/\(r.int(24...35))"  // an expiry date
        case 1: String(r.int(100...999))  // a CVV
        case 2: "+44 20 7946 \(r.int(1000...9999))"
        case 3: "(555) 123-\(r.int(1000...9999))"
        case 4: "GBP \(r.int(1...999)).\(r.int(10...99))"
        case 5: "\(r.int(1...28)).\(r.int(1...12)).20\(r.int(10...29))"
        case 6: ordinary(&r)
        default: r.pick(words)
        }
    }

    /// Places `identifier` (already rendered, with its label if it needs one) in a random frame.
    /// - Parameter adjacent: whether digit groups may touch the identifier with only a separator between.
    static func place(_ r: inout SeededRandom, _ identifier: String, adjacent: Bool) -> PlacedIdentifier {
        let glue = adjacent ? r.pick([" ", "\n", ", ", " ", ": ", "\t"]) : r.pick([" and ", ", then ", "\n- "])
        let before = r.int(0...2) == 0 ? "" : neighbour(&r) + glue
        let after = r.int(0...2) == 0 ? "" : glue + neighbour(&r)
        let inner = before + "\u{1}" + after
        let frames = [
            "\u{1}", "Card \u{1} please", "alice,\u{1},10/27,GBP 12.40", "{\"ref\": \"\u{1}\", \"n\": 3}",
            "| name | value |\n|---|---|\n| x | \u{1} |", "https://pay.example.com/c/\u{1}?x=1",
            "Hi,\n\u{1}\nthanks", "> \u{1}", "\(ordinary(&r)) \u{1}.",
        ]
        let frame = r.pick(frames).replacingOccurrences(of: "\u{1}", with: inner)
        let parts = frame.components(separatedBy: "\u{1}")
        let start = parts[0].utf8.count
        return PlacedIdentifier(text: parts[0] + identifier + parts[1], span: start..<(start + identifier.utf8.count))
    }
}

@Suite struct DetectorPropertyTests {
    /// The identifier of `kind`, rendered, with its label when the kind needs one (NHS, NPI) and
    /// sometimes when it does not (SSN); the label is part of the placed text.
    static func rendered(_ kind: IdentifierKind, valid: Bool, _ r: inout SeededRandom) -> String {
        switch kind {
        case .card:
            let card = IdentifierSpecs.card(&r, valid: valid)
            return Rendering.digits(&r, card.digits, grouping: card.grouping)
        case .iban:
            return Rendering.iban(&r, IdentifierSpecs.iban(&r, valid: valid))
        case .nhs:
            let label = r.pick(["NHS number ", "NHS no. ", "NHS: ", "nhs number\n"])
            return label + Rendering.digits(&r, IdentifierSpecs.nhs(&r, valid: valid), grouping: [3, 3, 4])
        case .ssn:
            let label = r.pick(["", "SSN ", "ssn: ", "social security number "])
            return label
                + Rendering.digits(
                    &r, IdentifierSpecs.ssn(&r, valid: valid), grouping: [3, 2, 4], visible: label.isEmpty)
        case .npi:
            let digits = IdentifierSpecs.npi(&r, valid: valid)
            let script = r.pick(Rendering.zeros)
            return r.pick(["NPI ", "NPI: ", "provider NPI "])
                + digits.map { Rendering.digit($0, zero: script) }.joined()
        }
    }

    static func found(_ detector: String, in placed: PlacedIdentifier) throws -> Bool {
        try allDetectorsPolicy.detect(placed.text).hits.contains {
            $0.detector == detector && $0.range.overlaps(placed.span)
        }
    }

    @Test(.shrinking(false))
    func validIdentifiersAreFoundInAnyFormatAndContext() async {
        await propertyCheck(count: 3000, input: Gen.uint64()) { seed in
            var r = SeededRandom(seed: seed)
            let kind = r.pick(IdentifierKind.allCases)
            let placed = ContextGrammar.place(&r, Self.rendered(kind, valid: true, &r), adjacent: true)
            let found = try Self.found(kind.detector, in: placed)
            #expect(found, "\(kind.detector) missed in \(placed.text.debugDescription)")
        }
    }

    /// Context for a broken identifier is joined by words, not bare separators: digit groups touching
    /// it could form a different, valid identifier, which would rightly be found.
    @Test(.shrinking(false))
    func brokenChecksumsAreNotFound() async {
        await propertyCheck(count: 3000, input: Gen.uint64()) { seed in
            var r = SeededRandom(seed: seed)
            let kind = r.pick(IdentifierKind.allCases)
            let placed = ContextGrammar.place(&r, Self.rendered(kind, valid: false, &r), adjacent: false)
            let found = try Self.found(kind.detector, in: placed)
            #expect(!found, "\(kind.detector) flagged \(placed.text.debugDescription)")
        }
    }

    @Test(.shrinking(false))
    func ordinaryNumericTextIsNotTagged() async {
        let checked = Set(IdentifierKind.allCases.map(\.detector) + ["aba-routing", "dob"])
        await propertyCheck(count: 3000, input: Gen.uint64()) { seed in
            var r = SeededRandom(seed: seed)
            let text = (0..<r.int(1...6)).map { _ in
                r.pick(["", "", "Re ", "at ", "total "]) + ContextGrammar.ordinary(&r)
            }.joined(separator: r.pick([" ", ", ", "\n", " | "]))
            let hits = try allDetectorsPolicy.detect(text).hits.filter { checked.contains($0.detector) }
            #expect(hits.isEmpty, "\(hits.map(\.detector)) in \(text.debugDescription)")
        }
    }

    /// A date of birth in a written form, with its label before it, after it or on the line above.
    static func labelledDate(_ r: inout SeededRandom) -> PlacedIdentifier {
        let (day, month, year) = (r.int(1...28), r.int(1...12), r.int(1930...2010))
        let names = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December",
        ]
        let name = names[month - 1]
        let short = String(name.prefix(3))
        let ordinal = day == 1 || day == 21 ? "st" : day == 2 || day == 22 ? "nd" : day == 3 || day == 23 ? "rd" : "th"
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let separator = r.pick(["/", "-", ".", " "])
        let forms = [
            "\(two(day))\(separator)\(two(month))\(separator)\(year)", "\(year)-\(two(month))-\(two(day))",
            "\(day)\(separator)\(month)\(separator)\(year % 100 < 10 ? "0" : "")\(year % 100)",
            "\(day) \(name) \(year)", "\(day)\(ordinal) \(name) \(year)", "\(day)\(ordinal) of \(name), \(year)",
            "\(name) \(day), \(year)", "\(short) \(day)\(ordinal) \(year)", "\(day)-\(short)-\(year)",
            "\(r.pick([name.lowercased(), name.uppercased(), short + "."])) \(day) \(year)",
            "\(year)\(two(month))\(two(day))",
        ]
        let script = r.int(0...3) == 0 ? r.pick(Rendering.zeros) : 0x30
        let date = String(
            r.pick(forms).map { ch in ch.wholeNumberValue.map { Rendering.digit($0, zero: script) } ?? String(ch) }
                .joined())
        let (before, after) = r.pick([
            ("DOB: ", ""), ("date of birth ", ""), ("Born on ", " in Leeds"), ("Patient, ", " (DOB)"),
            ("Date of birth:\n", ""), ("", " is her date of birth"), ("D.O.B. ", ""), ("dob\t", ""),
        ])
        let framed = ContextGrammar.place(&r, before + date + after, adjacent: false)
        let start = framed.span.lowerBound + before.utf8.count
        return PlacedIdentifier(text: framed.text, span: start..<(start + date.utf8.count))
    }

    @Test(.shrinking(false))
    func labelledDatesOfBirthAreFoundInCommonWrittenForms() async {
        await propertyCheck(count: 2000, input: Gen.uint64()) { seed in
            var r = SeededRandom(seed: seed)
            let placed = Self.labelledDate(&r)
            let found = try Self.found("dob", in: placed)
            #expect(found, "dob missed in \(placed.text.debugDescription)")
        }
    }
}
