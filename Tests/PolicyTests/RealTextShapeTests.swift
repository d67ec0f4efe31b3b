// The shapes of issue 16, one by one: each identifier is found whatever stands next to it and however
// its digits are written, its span points at the original bytes, and the near-miss with a broken
// checksum stays untagged. The identifiers are published test numbers (network test cards, the NHS
// Digital example, the ECBS example IBAN), so the expected outcome does not come from the detectors.
import Testing

@testable import Policy

@Suite struct RealTextShapeTests {
    /// The detectors found in `text`, and the original text each span covers.
    static func found(_ text: String) throws -> [(detector: String, text: String)] {
        let bytes = Array(text.utf8)
        return try allDetectorsPolicy.detect(text).hits.map {
            ($0.detector, String(decoding: bytes[$0.range], as: UTF8.self))
        }
    }

    @Test(arguments: [
        ("Card 5194 0283 8304 7806 06/31", "5194 0283 8304 7806"),
        ("alice,5226811185288179,10/27,GBP 12.40", "5226811185288179"),
        ("4111 1111 1111 1111 cvv 123 tel 020 7946 0958", "4111 1111 1111 1111"),
        ("ID4111111111111111please", "4111111111111111"),
        (
            "card \u{FF14}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11}.",
            "\u{FF14}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11} \u{FF11}\u{FF11}\u{FF11}\u{FF11}"
        ),
        ("card 4111\u{00A0}1111\u{202F}1111\u{2009}1111 ok", "4111\u{00A0}1111\u{202F}1111\u{2009}1111"),
        ("card 4111\t1111  1111\t\t1111 ok", "4111\t1111  1111\t\t1111"),
        ("card 4111\u{200B}1111\u{200B}1111\u{200B}1111 ok", "4111\u{200B}1111\u{200B}1111\u{200B}1111"),
        ("/paste card 4111 11\n11 1111 1111\nthanks", "4111 11\n11 1111 1111"),
        (
            "card \u{0664}\u{0661}\u{0661}\u{0661}-\u{0661}\u{0661}\u{0661}\u{0661}-\u{0661}\u{0661}\u{0661}\u{0661}-\u{0661}\u{0661}\u{0661}\u{0661}",
            "\u{0664}\u{0661}\u{0661}\u{0661}-\u{0661}\u{0661}\u{0661}\u{0661}-\u{0661}\u{0661}\u{0661}\u{0661}-\u{0661}\u{0661}\u{0661}\u{0661}"
        ),
    ])
    func cardsAreFoundWhateverSurroundsThem(text: String, card: String) throws {
        let hits = try Self.found(text).filter { $0.detector == "credit-card" }
        #expect(hits.map(\.text) == [card], "\(hits)")
    }

    /// Separators someone uses to spell a number out: spaced dashes and underscores.
    @Test(arguments: [
        ("card 4111 - 1111 - 1111 - 1111 ok", "4111 - 1111 - 1111 - 1111"),
        ("card: 4111_1111_1111_1111", "4111_1111_1111_1111"),
        ("card 5555 - 5555 - 5555 - 4444 - exp 01/27", "5555 - 5555 - 5555 - 4444"),
    ])
    func cardsSpeltOutAreFound(text: String, card: String) throws {
        let hits = try Self.found(text).filter { $0.detector == "credit-card" }
        #expect(hits.map(\.text) == [card], "\(hits)")
    }

    @Test func twoAdjacentCardsAreTwoCards() throws {
        let hits = try Self.found("4111 1111 1111 1111 5555 5555 5555 4444").filter { $0.detector == "credit-card" }
        #expect(hits.map(\.text) == ["4111 1111 1111 1111", "5555 5555 5555 4444"])
    }

    @Test(arguments: [
        ("SSN 123-45-6789 01/02/1990", "us-ssn", "123-45-6789"),
        ("SSN 123-45-6789 +1 212 555 0143", "us-ssn", "123-45-6789"),
        ("NHS number 943 476 5919 01/02/1990", "uk-nhs", "943 476 5919"),
        ("NHS number 943 476 5919 020 7946 0958", "uk-nhs", "943 476 5919"),
        ("nhs: 943\u{00A0}476\u{00A0}5919", "uk-nhs", "943\u{00A0}476\u{00A0}5919"),
        ("pay gb82 west 1234 5698 7654 32 today", "iban", "gb82 west 1234 5698 7654 32"),
        ("pay Gb82-West-1234-5698-7654-32 today", "iban", "Gb82-West-1234-5698-7654-32"),
        ("ibanGB82WEST12345698765432x", "iban", "GB82WEST12345698765432"),
        ("dx: c50.9 confirmed", "icd10", "c50.9"),
    ])
    func identifiersNextToOtherNumbersAreFound(text: String, detector: String, span: String) throws {
        let hits = try Self.found(text).filter { $0.detector == detector }
        #expect(hits.map(\.text) == [span], "\(hits)")
    }

    /// A phone number has no checksum, so it is judged by its shape and by standing apart; inside a longer
    /// run of digit groups it is still found when a space sets it apart from a count, a date or another
    /// number. UK numbers from Ofcom's drama ranges, US ones from the 555-01xx fictional block's shape.
    @Test(arguments: [
        ("ring 07700 900123 4pm", ["07700 900123"]),
        ("call 555-234-5678 2 times", ["555-234-5678"]),
        ("phone 555 234 5678 12/03/2024", ["555 234 5678"]),
        ("mobile 07700 900123 01/02/2025 after 6", ["07700 900123"]),
        ("+44 20 7946 0018 020 7946 0019", ["+44 20 7946 0018", "020 7946 0019"]),
        ("4111 1111 1111 1111 020 7946 0958", ["020 7946 0958"]),
    ])
    func phonesNextToOtherNumbersAreFound(text: String, phones: [String]) throws {
        let hits = try Self.found(text).filter { $0.detector == "phone" }
        #expect(hits.map(\.text) == phones, "\(hits)")
    }

    /// Digit groups that only a phone's shape could tag stay untagged when nothing sets a phone apart.
    @Test(arguments: [
        "Meeting on 14/03/2024 at 14:30", "Order ORD-2024-118834 for 1,250.00 EUR", "v2.14.3 released 2024-07-31",
        "totals 1 234 567 890 123 456 EUR", "ISBN 978-0-306-40615-7", "route 555-234-5678-9 closed",
        "ref 555/234/5678", "Batch 123 456 7890 12 units arrived",
    ])
    func ordinaryDigitGroupsAreNotPhones(text: String) throws {
        let hits = try Self.found(text).filter { $0.detector == "phone" }
        #expect(hits.isEmpty, "\(hits)")
    }

    @Test(arguments: [
        ("DOB 14/03/1980", "14/03/1980"), ("born 14th March 1980", "14th March 1980"),
        ("date of birth: March 14th, 1980", "March 14th, 1980"), ("DOB 19800314", "19800314"),
        ("14 Mar 1980 (DOB)", "14 Mar 1980"), ("Date of birth\n14-Mar-1980", "14-Mar-1980"),
        ("14.03.80 is her date of birth", "14.03.80"), ("D.O.B. 14th of march, 1980", "14th of march, 1980"),
    ])
    func datesOfBirthInWrittenForms(text: String, date: String) throws {
        let hits = try Self.found(text).filter { $0.detector == "dob" }
        #expect(hits.map(\.text) == [date], "\(hits)")
    }

    @Test(arguments: [
        "Card 4111 1111 1111 1112 06/31", "alice,5226811185288178,10/27,GBP 12.40", "NHS number 943 476 5918",
        "pay gb83 west 1234 5698 7654 32", "Meeting on 14/03/2024 at 14:30", "v2.14.3 released 2024-07-31",
        "Order ORD-2024-118834 for 1,250.00 EUR", "SSN 000-45-6789", "tracking 1Z999AA10123456784",
        "card 4111 - 1111 - 1111 - 1112", "card 4111_1111_1111_1112",
    ])
    func nearMissesAndOrdinaryNumbersStayUntagged(text: String) throws {
        let hits = try Self.found(text).filter { $0.detector != "phone" }
        #expect(hits.isEmpty, "\(hits)")
    }
}
