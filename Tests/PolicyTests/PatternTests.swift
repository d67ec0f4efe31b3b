// The admin pattern engine: regex semantics on the supported subset, rejection of unsupported
// syntax with an offset, and linear time on inputs that make backtracking engines explode.
import Testing

@testable import Policy

private func find(_ pattern: String, _ text: String, caseInsensitive: Bool = true) throws -> [String] {
    let compiled = try Pattern(pattern, caseInsensitive: caseInsensitive)
    var budget = 10_000_000
    let bytes = Array(text.utf8)
    return try compiled.matches(in: bytes, budget: &budget).map { String(decoding: bytes[$0], as: UTF8.self) }
}

@Suite struct PatternTests {
    @Test func literalsClassesAndQuantifiers() throws {
        #expect(
            try find(#"MRN[-: ]?\d{7}"#, "a MRN 1234567 and mrn-7654321 and MRN12345") == [
                "MRN 1234567", "mrn-7654321",
            ])
        #expect(try find(#"\bab+c\b"#, "abc abbbc xabc abcx") == ["abc", "abbbc"])
        #expect(try find("colou?r", "color colour colouur") == ["color", "colour"])
        #expect(try find("(cat|dog)s?", "cats and a dog") == ["cats", "dog"])
        #expect(try find("[^0-9 ]+", "12ab 34cd") == ["ab", "cd"])
        #expect(try find(#"\d{2,3}"#, "1 12 1234") == ["12", "123"])
        #expect(try find("^id", "id x\nid y\n xid") == ["id", "id"])
        #expect(try find("ABC", "abc ABC", caseInsensitive: false) == ["ABC"])
    }

    @Test func leftmostLongest() throws {
        #expect(try find("a|ab|abc", "xabcx") == ["abc"])
        #expect(try find(#"\d+"#, "123 45") == ["123", "45"])
    }

    @Test(arguments: [
        ("(?=x)", 0), ("a\\1", 1), ("[abc", 0), ("(ab", 0), ("ab)", 2), ("*a", 0), ("a{40}", 1), ("a{3,1}", 1),
    ])
    func unsupportedOrBrokenSyntaxIsRejectedWithOffset(pattern: String, offset: Int) {
        #expect(throws: Pattern.SyntaxError.self) { try Pattern(pattern, caseInsensitive: true) }
        do {
            _ = try Pattern(pattern, caseInsensitive: true)
        } catch {
            #expect(error.offset == offset, "\(pattern): \(error.message)")
        }
    }

    @Test func programSizeIsBounded() {
        #expect(throws: Pattern.SyntaxError.self) { try Pattern("((a{32}){32}){32}", caseInsensitive: true) }
    }

    /// `(a+)+$` and `(a|a)*b` take exponential time in backtracking engines on "aaaa...c".
    @Test func catastrophicPatternsRunInLinearTime() throws {
        let clock = ContinuousClock()
        let text = String(repeating: "a", count: 4096) + "c"
        for pattern in ["(a+)+$", "(a|a)*b", "(a|aa)+c$", "(.*a){12}"] {
            let compiled = try Pattern(pattern, caseInsensitive: true)
            var budget = DetectorSuite.stepBudget
            let elapsed = try clock.measure {
                _ = try compiled.matches(in: Array(text.utf8), budget: &budget)
            }
            #expect(elapsed < .seconds(2), "\(pattern) took \(elapsed)")
        }
    }

    @Test func budgetStopsRunawayWork() throws {
        let compiled = try Pattern("(a|b|c|d|e)*z", caseInsensitive: true)
        var budget = 1000
        #expect(throws: PolicyError.timeBudgetExceeded) {
            _ = try compiled.matches(in: Array(String(repeating: "abcde", count: 1000).utf8), budget: &budget)
        }
    }
}
