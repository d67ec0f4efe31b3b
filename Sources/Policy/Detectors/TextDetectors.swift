// The detectors that are not plain digit runs: e-mail addresses, IBANs, dates of birth after a label
// and ICD-10 codes after a label. Each is a bounded forward or backward walk from an anchor byte
// (`@`, two capitals and two digits, the end of a context word), so a message costs one pass.

enum TextDetectors {
    // MARK: E-mail

    private static func isLocal(_ b: UInt8) -> Bool {
        Bytes.isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "%")
            || b == UInt8(ascii: "+") || b == UInt8(ascii: "-")
    }

    static func emails(_ bytes: [UInt8], into hits: inout [DetectorHit]) {
        let n = bytes.count
        var lastEnd = 0
        var at = -1
        while true {
            at = Bytes.firstIndex(in: bytes, from: at + 1) { $0 == UInt8(ascii: "@") }
            guard at < n else { break }
            guard at >= lastEnd else { continue }
            var start = at
            while start > lastEnd, at - start < 64, isLocal(bytes[start - 1]) { start -= 1 }
            while start < at, bytes[start] == UInt8(ascii: ".") { start += 1 }
            guard start < at, start == 0 || !isLocal(bytes[start - 1]) || bytes[start - 1] == UInt8(ascii: ".")
            else { continue }
            // Domain: labels of letters, digits and inner dashes, separated by single dots.
            var j = at + 1
            var labels = 0
            var lastLabelStart = j
            var end = at + 1
            while j < n, j - at < 254 {
                let labelStart = j
                while j < n, Bytes.isAlnum(bytes[j]) || bytes[j] == UInt8(ascii: "-") { j += 1 }
                guard j > labelStart, bytes[labelStart] != UInt8(ascii: "-"), bytes[j - 1] != UInt8(ascii: "-")
                else { break }
                labels += 1
                lastLabelStart = labelStart
                end = j
                guard j + 1 < n, bytes[j] == UInt8(ascii: "."), Bytes.isAlnum(bytes[j + 1]) else { break }
                j += 1
            }
            guard labels >= 2, end - lastLabelStart >= 2,
                bytes[lastLabelStart..<end].allSatisfy(Bytes.isAlpha)
            else { continue }
            hits.append(DetectorHit(detector: BuiltinDetector.email.rawValue, range: start..<end, confidence: 0.95))
            lastEnd = end
        }
    }

    // MARK: IBAN

    /// IBAN lengths indexed by the two country letters (26 * first + second); 0 = no such country.
    private static let ibanLengths: [Int] = {
        var table = Array(repeating: 0, count: 26 * 26)
        for (country, length) in Checksums.ibanLength {
            let c = Array(country.utf8)
            table[Int(c[0] - 65) * 26 + Int(c[1] - 65)] = length
        }
        return table
    }()

    static func ibans(_ bytes: [UInt8], into hits: inout [DetectorHit]) {
        let n = bytes.count
        var i = 0
        while i + 4 <= n {
            // Skip to the next two digits; an IBAN's check digits follow its country code.
            let digits = bytes.withUnsafeBufferPointer { text in
                var k = i + 2
                while k + 1 < n, !(Bytes.isDigit(text[k]) && Bytes.isDigit(text[k + 1])) { k += 1 }
                return k
            }
            i = digits - 2
            guard i + 4 <= n else { break }
            guard Bytes.isUpper(bytes[i]), Bytes.isUpper(bytes[i + 1]), Bytes.isDigit(bytes[i + 2]),
                Bytes.isDigit(bytes[i + 3]), i == 0 || !Bytes.isAlnum(bytes[i - 1])
            else {
                i += 1
                continue
            }
            let length = ibanLengths[Int(bytes[i] - 65) * 26 + Int(bytes[i + 1] - 65)]
            guard length > 0 else {
                i += 1
                continue
            }
            var chars: [UInt8] = []
            chars.reserveCapacity(length)
            var j = i
            while chars.count < length, j < n {
                let b = bytes[j]
                if Bytes.isUpper(b) || Bytes.isDigit(b) {
                    chars.append(b)
                    j += 1
                } else if b == 0x20, chars.count % 4 == 0, j + 1 < n, Bytes.isAlnum(bytes[j + 1]) {
                    j += 1
                } else {
                    break
                }
            }
            if chars.count == length, j == n || !Bytes.isAlnum(bytes[j]), Checksums.ibanMod97(chars) {
                hits.append(DetectorHit(detector: BuiltinDetector.iban.rawValue, range: i..<j, confidence: 0.95))
                i = j
            } else {
                i += 1
            }
        }
    }

    // MARK: Dates of birth

    private static let months: [[UInt8]] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ].map { Array($0.utf8) }

    static func datesOfBirth(
        _ bytes: [UInt8], lowered: [UInt8], context: MessageContext, into hits: inout [DetectorHit]
    ) {
        var lastEnd = -1
        for labelEnd in context.ends(.dob) {
            let limit = min(bytes.count, labelEnd + 20)
            var k = labelEnd
            while k < limit {
                if k > lastEnd, k == 0 || !Bytes.isAlnum(bytes[k - 1]),
                    let end = parseDate(bytes, lowered: lowered, at: k)
                {
                    hits.append(
                        DetectorHit(detector: BuiltinDetector.dateOfBirth.rawValue, range: k..<end, confidence: 0.85))
                    lastEnd = end
                    break
                }
                k += 1
            }
        }
    }

    /// Reads a number of 1...maxLength digits at `i`; returns (value, digits read).
    private static func number(_ b: [UInt8], _ i: Int, maxLength: Int) -> (Int, Int)? {
        var j = i
        var value = 0
        while j < b.count, j - i < maxLength, Bytes.isDigit(b[j]) {
            value = value * 10 + Bytes.value(b[j])
            j += 1
        }
        guard j > i, j == b.count || !Bytes.isDigit(b[j]) else { return nil }
        return (value, j - i)
    }

    private static func validYear(_ y: (Int, Int)) -> Bool { y.1 == 2 || (y.1 == 4 && (1900...2099).contains(y.0)) }

    /// A date at `i` in one of: 1980-03-14, 14/03/1980, 03.14.80, 14 March 1980, March 14, 1980.
    static func parseDate(_ b: [UInt8], lowered: [UInt8], at i: Int) -> Int? {
        let n = b.count
        if Bytes.isDigit(b[i]), let first = number(b, i, maxLength: 4) {
            var j = i + first.1
            if j < n, b[j] == UInt8(ascii: "/") || b[j] == UInt8(ascii: "-") || b[j] == UInt8(ascii: ".") {
                let separator = b[j]
                j += 1
                guard j < n, let second = number(b, j, maxLength: 2) else { return nil }
                j += second.1
                guard j < n, b[j] == separator else { return nil }
                j += 1
                guard j < n, let third = number(b, j, maxLength: 4) else { return nil }
                j += third.1
                if first.1 == 4 {
                    guard (1900...2099).contains(first.0), (1...12).contains(second.0), third.1 <= 2,
                        (1...31).contains(third.0)
                    else { return nil }
                } else {
                    guard first.1 <= 2, validYear(third), first.0 >= 1, second.0 >= 1,
                        (first.0 <= 12 && second.0 <= 31) || (first.0 <= 31 && second.0 <= 12)
                    else { return nil }
                }
                return j
            }
            // 14 March 1980
            guard first.1 <= 2, (1...31).contains(first.0), j < n, b[j] == 0x20 else { return nil }
            guard let afterMonth = month(lowered, j + 1), afterMonth < n, b[afterMonth] == 0x20,
                let year = number(b, afterMonth + 1, maxLength: 4), year.1 == 4, validYear(year)
            else { return nil }
            return afterMonth + 1 + year.1
        }
        // March 14, 1980 / March 14th 1980
        guard let afterMonth = month(lowered, i), afterMonth < n, b[afterMonth] == 0x20,
            let day = number(b, afterMonth + 1, maxLength: 2), (1...31).contains(day.0)
        else { return nil }
        var j = afterMonth + 1 + day.1
        while j < n, Bytes.isLower(lowered[j]), j - (afterMonth + 1 + day.1) < 2 { j += 1 }
        if j < n, b[j] == UInt8(ascii: ",") { j += 1 }
        guard j < n, b[j] == 0x20, let year = number(b, j + 1, maxLength: 4), year.1 == 4, validYear(year)
        else { return nil }
        return j + 1 + year.1
    }

    /// A month name (three-letter prefix, optionally the rest of the word and a dot); returns its end.
    private static func month(_ lowered: [UInt8], _ i: Int) -> Int? {
        guard i + 3 <= lowered.count else { return nil }
        let prefix = Array(lowered[i..<(i + 3)])
        guard months.contains(prefix) else { return nil }
        var j = i + 3
        while j < lowered.count, Bytes.isLower(lowered[j]), j - i < 9 { j += 1 }
        if j < lowered.count, lowered[j] == UInt8(ascii: ".") { j += 1 }
        return j
    }

    // MARK: ICD-10

    static func icd10Codes(_ bytes: [UInt8], context: MessageContext, into hits: inout [DetectorHit]) {
        var lastEnd = -1
        for labelEnd in context.ends(.icd) {
            var k = max(labelEnd, lastEnd)
            let limit = min(bytes.count, labelEnd + 48)
            while k < limit {
                if k == 0 || !Bytes.isAlnum(bytes[k - 1]), let end = icdCode(bytes, k) {
                    hits.append(DetectorHit(detector: BuiltinDetector.icd10.rawValue, range: k..<end, confidence: 0.8))
                    lastEnd = end
                    k = end
                } else {
                    k += 1
                }
            }
        }
    }

    /// ICD-10(-CM): a letter other than U, a digit, a digit or letter, then optionally `.` and 1-4
    /// letters or digits.
    private static func icdCode(_ b: [UInt8], _ i: Int) -> Int? {
        let n = b.count
        guard i + 3 <= n, Bytes.isUpper(b[i]), b[i] != UInt8(ascii: "U"), Bytes.isDigit(b[i + 1]),
            Bytes.isDigit(b[i + 2]) || Bytes.isUpper(b[i + 2])
        else { return nil }
        var j = i + 3
        if j + 1 < n, b[j] == UInt8(ascii: "."), Bytes.isDigit(b[j + 1]) || Bytes.isUpper(b[j + 1]) {
            j += 1
            let start = j
            while j < n, j - start < 4, Bytes.isDigit(b[j]) || Bytes.isUpper(b[j]) { j += 1 }
        }
        guard j == n || !Bytes.isAlnum(b[j]) else { return nil }
        return j
    }
}
