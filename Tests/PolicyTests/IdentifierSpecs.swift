// Identifiers built from their published specifications, for the property tests: each returns the
// characters of one valid identifier (or one that breaks exactly its checksum or structure rule),
// and the renderer writes them the many ways people and systems do. Nothing here calls the
// detectors or their checksum code: a bug in those cannot make these agree with it.

/// The identifier kinds the properties cover, with the detector that must find each and its label.
enum IdentifierKind: CaseIterable {
    case card, iban, nhs, ssn, npi

    var detector: String {
        switch self {
        case .card: "credit-card"
        case .iban: "iban"
        case .nhs: "uk-nhs"
        case .ssn: "us-ssn"
        case .npi: "us-npi"
        }
    }
}

enum IdentifierSpecs {
    /// ISO/IEC 7812-1 annex B: from the rightmost payload digit leftwards, double every other digit,
    /// add the digits of the results; the check digit brings the total to a multiple of 10.
    static func luhnDigit(_ payload: [Int]) -> Int {
        var sum = 0
        for (k, d) in payload.reversed().enumerated() {
            let v = k % 2 == 0 ? d * 2 : d
            sum += v / 10 + v % 10
        }
        return (10 - sum % 10) % 10
    }

    /// A card of a real issuer range: Visa 4 (16), Mastercard 51-55 (16), Amex 34/37 (15), Discover 6011 (16).
    static func card(_ r: inout SeededRandom, valid: Bool) -> (digits: [Int], grouping: [Int]) {
        let (prefix, length, grouping): ([Int], Int, [Int]) = r.pick([
            ([4], 16, [4, 4, 4, 4]), ([5, r.int(1...5)], 16, [4, 4, 4, 4]), ([3, r.pick([4, 7])], 15, [4, 6, 5]),
            ([6, 0, 1, 1], 16, [4, 4, 4, 4]),
        ])
        let payload = prefix + r.digits(length - 1 - prefix.count)
        let check = luhnDigit(payload)
        return (payload + [valid ? check : (check + r.int(1...9)) % 10], grouping)
    }

    /// ISO 13616: the check digits are 98 minus (BBAN, country letters as 10-35, "00") mod 97.
    static func iban(_ r: inout SeededRandom, valid: Bool) -> [Character] {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        func some(_ n: Int) -> String { String((0..<n).map { _ in r.pick(letters) }) }
        func digits(_ n: Int) -> String { r.digits(n).map(String.init).joined() }
        let (country, bban): (String, String) = r.pick([
            ("GB", some(4) + digits(14)), ("DE", digits(18)), ("NL", some(4) + digits(10)), ("BE", digits(12)),
            ("FR", digits(10) + some(1) + digits(10) + digits(2)), ("CH", digits(17)),
        ])
        var remainder = 0
        for ch in bban + country + "00" {
            let value = ch.isNumber ? ch.wholeNumberValue! : Int(ch.asciiValue!) - 55
            for digit in String(value) { remainder = (remainder * 10 + digit.wholeNumberValue!) % 97 }
        }
        var check = 98 - remainder
        // Any other pair 02-98 fails mod 97 (two different pairs below 97 cannot both leave 1).
        if !valid { check = (check - 2 + r.int(1...96)) % 97 + 2 }
        return Array(country + (check < 10 ? "0" : "") + String(check) + bban)
    }

    /// NHS Digital: weights 10..2 over nine digits; check = 11 - sum mod 11, 11 → 0, 10 never issued.
    static func nhs(_ r: inout SeededRandom, valid: Bool) -> [Int] {
        while true {
            let body = r.digits(9)
            let sum = zip(body, stride(from: 10, through: 2, by: -1)).reduce(0) { $0 + $1.0 * $1.1 }
            var check = 11 - sum % 11
            if check == 11 { check = 0 }
            if check == 10 { continue }
            return body + [valid ? check : (check + r.int(1...9)) % 10]
        }
    }

    /// SSA: area 001-899 except 666, group 01-99, serial 0001-9999; an invalid one breaks one rule.
    static func ssn(_ r: inout SeededRandom, valid: Bool) -> [Int] {
        var area = r.int(1...899)
        if area == 666 { area = 667 }
        var group = r.int(1...99)
        var serial = r.int(1...9999)
        if !valid {
            switch r.int(0...4) {
            case 0: area = 0
            case 1: area = 666
            case 2: area = r.int(900...999)
            case 3: group = 0
            default: serial = 0
            }
        }
        return [area / 100, area / 10 % 10, area % 10, group / 10, group % 10]
            + [serial / 1000, serial / 100 % 10, serial / 10 % 10, serial % 10]
    }

    /// CMS: ten digits starting 1 or 2; the last is the Luhn digit of 80840 followed by the first nine.
    static func npi(_ r: inout SeededRandom, valid: Bool) -> [Int] {
        let body = [r.int(1...2)] + r.digits(8)
        let check = luhnDigit([8, 0, 8, 4, 0] + body)
        return body + [valid ? check : (check + r.int(1...9)) % 10]
    }
}

/// Writes identifiers the ways real text does: digit scripts, group separators, case.
enum Rendering {
    /// The zero of each decimal digit script used (ASCII, fullwidth, Arabic-Indic, Devanagari, Bengali, Thai).
    static let zeros: [UInt32] = [0x30, 0xFF10, 0x660, 0x966, 0x9E6, 0xE50]
    /// Separators inside digit groups: spaces of every width, no-break spaces, tabs, double spaces,
    /// dashes (bare or spaced), dots, underscores and zero-width characters.
    static let separators = [
        " ", " ", "-", "-", ".", "\u{00A0}", "\u{202F}", "\u{2009}", "\u{2007}", "\t", "  ", "\u{200B}", "\u{3000}",
        "\u{2011}", " - ", "_",
    ]

    static func digit(_ d: Int, zero: UInt32) -> String { String(Character(Unicode.Scalar(zero + UInt32(d))!)) }

    /// Digits in one script (sometimes a different script per digit), grouped as `grouping` with one
    /// separator, and sometimes a line break in place of one separator.
    /// - Parameter visible: the groups must show (an unlabelled SSN is an SSN only by its 3-2-4 shape).
    static func digits(_ r: inout SeededRandom, _ digits: [Int], grouping: [Int], visible: Bool = false) -> String {
        let mixed = r.int(0...5) == 0
        let script = r.pick(zeros)
        let grouped = visible || r.int(0...3) != 0
        let separator = r.pick(visible ? separators.filter { $0 != "\u{200B}" } : separators)
        // No line break in an unlabelled SSN: its 3-2-4 shape must show (across a line break it is
        // found only with its label, or amounts over dates would read as SSNs).
        let lineBreakAt = !visible && r.int(0...4) == 0 ? r.int(1...max(1, grouping.count - 1)) : -1
        var out = ""
        var offset = 0
        for (g, size) in grouping.enumerated() {
            if g > 0, grouped { out += g == lineBreakAt ? "\n" : separator }
            for d in digits[offset..<(offset + size)] { out += digit(d, zero: mixed ? r.pick(zeros) : script) }
            offset += size
        }
        return out
    }

    /// An IBAN in upper, lower or mixed case, compact or in fours separated by a space, dash or no-break space.
    static func iban(_ r: inout SeededRandom, _ chars: [Character]) -> String {
        let style = r.int(0...2)
        let separator = r.pick([" ", "-", "\u{00A0}", " ", ""])
        let script = r.int(0...3) == 0 ? r.pick(zeros) : 0x30
        var out = ""
        for (i, ch) in chars.enumerated() {
            if i > 0, i % 4 == 0 { out += separator }
            if let d = ch.wholeNumberValue {
                out += digit(d, zero: script)
            } else {
                let lower = style == 1 || (style == 2 && r.int(0...1) == 0)
                out += lower ? ch.lowercased() : String(ch)
            }
        }
        return out
    }
}
