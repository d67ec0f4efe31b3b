// An independent generator of labelled test text for the detector quality test. It computes check
// digits its own way (written from the published specifications, not from Checksums.swift) and
// produces valid identifiers, checksum-invalid near-misses, and ordinary business and clinical
// text full of order numbers, amounts, dates and phone-like references.

/// A seeded xorshift generator, so every run sees the same corpus.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x2545_F491_4F6C_DD1D | 1 }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    mutating func digits(_ count: Int) -> [Int] { (0..<count).map { _ in int(0...9) } }
}

/// One labelled item: the text and which detector must (or must not) find it.
struct LabelledItem {
    var text: String
    /// The detector that must find it; nil for a near-miss no detector of `kind` may flag.
    var detector: String?
    /// For near-misses: the detector that must stay silent.
    var nearMissOf: String?
}

enum CorpusGenerator {
    static func string(_ digits: [Int]) -> String { digits.map(String.init).joined() }

    /// Luhn check digit for a payload, from ISO/IEC 7812-1 annex B: double every second digit starting
    /// with the rightmost payload digit, add the digits of the products, check = (10 - sum mod 10) mod 10.
    static func luhnCheckDigit(_ payload: [Int]) -> Int {
        var sum = 0
        var double = true
        for d in payload.reversed() {
            let v = double ? d * 2 : d
            sum += v / 10 + v % 10
            double.toggle()
        }
        return (10 - sum % 10) % 10
    }

    static func card(_ r: inout SeededRandom, valid: Bool) -> String {
        let (prefix, length, grouping): ([Int], Int, [Int]) = r.pick([
            ([4], 16, [4, 4, 4, 4]), ([5, r.int(1...5)], 16, [4, 4, 4, 4]), ([3, r.pick([4, 7])], 15, [4, 6, 5]),
            ([6, 0, 1, 1], 16, [4, 4, 4, 4]), ([3, 5, r.int(2...8), r.int(8...9)], 16, [4, 4, 4, 4]),
            ([2, 2, 2, r.int(1...9)], 16, [4, 4, 4, 4]),
        ])
        let payload = prefix + r.digits(length - 1 - prefix.count)
        var check = luhnCheckDigit(payload)
        if !valid { check = (check + r.int(1...9)) % 10 }
        let all = payload + [check]
        let style = r.int(0...2)
        if style == 0 { return string(all) }
        let separator = style == 1 ? " " : "-"
        var parts: [String] = []
        var offset = 0
        for g in grouping {
            parts.append(string(Array(all[offset..<(offset + g)])))
            offset += g
        }
        return parts.joined(separator: separator)
    }

    static func ssn(_ r: inout SeededRandom, valid: Bool) -> String {
        let d = IdentifierSpecs.ssn(&r, valid: valid)
        return "\(string(Array(d[0..<3])))-\(string(Array(d[3..<5])))-\(string(Array(d[5...])))"
    }

    /// ISO 13616: check digits = 98 - (BBAN + country letters as 10..35 + "00") mod 97.
    static func iban(_ r: inout SeededRandom, valid: Bool) -> String {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        func randomLetters(_ n: Int) -> String { String((0..<n).map { _ in r.pick(letters) }) }
        let (country, bban): (String, String) = r.pick([
            ("GB", randomLetters(4) + string(r.digits(14))), ("DE", string(r.digits(18))),
            ("NL", randomLetters(4) + string(r.digits(10))), ("ES", string(r.digits(20))),
            ("FR", string(r.digits(10)) + randomLetters(2) + string(r.digits(9)) + string(r.digits(2))),
            ("BE", string(r.digits(12))),
        ])
        var remainder = 0
        for ch in bban + country + "00" {
            let value = ch.isNumber ? ch.wholeNumberValue! : Int(ch.asciiValue! - 55)
            for digit in String(value) { remainder = (remainder * 10 + digit.wholeNumberValue!) % 97 }
        }
        var check = 98 - remainder
        if !valid { check = (check - 2 + r.int(1...95)) % 97 + 2 }
        let compact = country + (check < 10 ? "0" : "") + String(check) + bban
        guard r.int(0...1) == 0 else { return compact }
        var grouped = ""
        for (i, ch) in compact.enumerated() {
            if i > 0, i % 4 == 0 { grouped += " " }
            grouped.append(ch)
        }
        return grouped
    }

    /// NHS Digital: weights 10..2 on the first nine digits, check = 11 - (sum mod 11); 11 → 0; 10 is
    /// never issued.
    static func nhs(_ r: inout SeededRandom, valid: Bool) -> String {
        while true {
            let body = r.digits(9)
            let sum = zip(body, (2...10).reversed()).reduce(0) { $0 + $1.0 * $1.1 }
            var check = 11 - sum % 11
            if check == 11 { check = 0 }
            if check == 10 { continue }
            if !valid { check = (check + r.int(1...9)) % 10 }
            let all = string(body + [check])
            let spaced = "\(all.prefix(3)) \(all.dropFirst(3).prefix(3)) \(all.suffix(4))"
            return r.pick(["NHS number \(spaced)", "NHS No: \(all)", "NHS no. \(spaced)"])
        }
    }

    /// CMS: NPI check digit is the Luhn digit of 80840 + the first nine digits.
    static func npi(_ r: inout SeededRandom, valid: Bool) -> String {
        let body = [r.int(1...2)] + r.digits(8)
        var check = luhnCheckDigit([8, 0, 8, 4, 0] + body)
        if !valid { check = (check + r.int(1...9)) % 10 }
        return r.pick(["NPI ", "NPI: ", "provider NPI "]) + string(body + [check])
    }

    /// ABA: 3-7-1 weights over the nine digits sum to a multiple of ten.
    static func aba(_ r: inout SeededRandom, valid: Bool) -> String {
        let prefix = r.pick([r.int(0...12), r.int(21...32), r.int(61...72)])
        let body = [prefix / 10, prefix % 10] + r.digits(6)
        let weights = [3, 7, 1, 3, 7, 1, 3, 7]
        let sum = zip(body, weights).reduce(0) { $0 + $1.0 * $1.1 }
        var check = (10 - sum % 10) % 10
        if !valid { check = (check + r.int(1...9)) % 10 }
        return r.pick(["routing number ", "ABA ", "routing: "]) + string(body + [check])
    }

    static func email(_ r: inout SeededRandom) -> String {
        r.pick(["jane.doe", "j.smith", "ops-team", "a.n.other+billing", "k_oconnor"]) + "@"
            + r.pick(["example.org", "mail.example.co.uk", "hospital.nhs.uk", "bank-example.com"])
    }

    static func phone(_ r: inout SeededRandom) -> String {
        let area = "\(r.int(2...9))\(r.int(0...9))\(r.int(0...9))"
        let exchange = "\(r.int(2...9))\(r.int(0...9))\(r.int(0...9))"
        let line = string(r.digits(4))
        return r.pick([
            "(\(area)) \(exchange)-\(line)", "\(area)-\(exchange)-\(line)", "+1 \(area) \(exchange) \(line)",
            "020 \(r.int(3...8))\(string(r.digits(3))) \(line)", "+44 20 \(r.int(3...8))\(string(r.digits(3))) \(line)",
            "07\(string(r.digits(3))) \(string(r.digits(6)))", "\(area).\(exchange).\(line)",
        ])
    }

    static func dob(_ r: inout SeededRandom) -> String {
        let month = r.int(1...12)
        let day = r.int(1...28)
        let year = r.int(1930...2015)
        let names = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September",
            "October", "November", "December",
        ]
        return r.pick([
            "DOB: \(day)/\(month)/\(year)",
            "date of birth \(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)",
            "born on \(names[month - 1]) \(day), \(year)", "D.O.B. \(day) \(names[month - 1]) \(year)",
        ])
    }

    static func icd10(_ r: inout SeededRandom) -> String {
        let code = r.pick(["E11.9", "I10", "C50.912", "J45.909", "F32.A", "M54.5", "N18.3", "Z79.4", "S72.001A"])
        return r.pick(["ICD-10 ", "diagnosis: ", "dx ", "ICD10: "]) + code
    }

    /// Ordinary text: must produce no finding at all.
    static func ordinary(_ r: inout SeededRandom) -> String {
        r.pick([
            "Order ORD-\(r.int(2019...2025))-\(r.int(100000...999999)) shipped on \(r.int(1...28))/\(r.int(1...12))/2024.",
            "Invoice INV \(r.int(10_000_000...99_999_999)) totals $\(r.int(1...99)),\(r.int(100...999)).\(r.int(10...99)).",
            "The meeting is on \(r.int(2020...2026))-0\(r.int(1...9))-1\(r.int(0...9)) at 14:30 in room \(r.int(1...9)).\(r.int(10...40)).",
            "Give \(r.int(1...4)) x \(r.int(1...9))50 mg twice daily and review in \(r.int(2...14)) days.",
            "Revenue rose \(r.int(1...9)).\(r.int(0...9))% to EUR \(r.int(1...999)).\(r.int(100...999)).\(r.int(100...999)),00 this quarter.",
            "Ticket \(r.int(555...556))-0\(r.int(100...199)) was closed; see ext. \(r.int(1000...9999)).",
            "Version v\(r.int(1...9)).\(r.int(0...20)).\(r.int(0...99)) fixed reference 2024-00\(r.int(10...99))-17.",
            "Blood pressure \(r.int(100...160))/\(r.int(60...99)), pulse \(r.int(50...110)), temperature 37.\(r.int(0...9)).",
            "Batch \(r.int(100000...999999)) of \(r.int(10...500)) units arrived; PO \(r.int(1_000_000...9_999_999)).",
            "The patient walked \(r.int(100...900)) metres and felt well; follow up next week.",
            "Loan of \(r.int(100...900))000 at \(r.int(1...7)).\(r.int(0...9))% over \(r.int(5...30)) years.",
            "Tracking 1Z\(r.int(100...999))AA\(r.int(10_000_000...99_999_999)), weight \(r.int(1...30)).\(r.int(0...9)) kg.",
        ])
    }
}
