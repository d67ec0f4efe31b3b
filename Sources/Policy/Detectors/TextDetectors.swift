// The detectors that are not plain digit runs: e-mail addresses, IBANs and ICD-10 codes after a
// label (dates of birth are in DateDetector). Each is a bounded forward or backward walk from an anchor byte
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
            at = Bytes.firstIndex(of: UInt8(ascii: "@"), in: bytes, from: at + 1)
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

    /// IBANs in any case, with their four-character groups separated by a space, line break, `-` or `.`,
    /// whatever stands before or after them: the country's fixed length ends the candidate.
    /// - Parameters:
    ///   - lowered: the normalised message in lower case.
    ///   - shapes: every span with an IBAN's shape (country, length), valid or not: the digit groups
    ///     of an account number are not a card or an SSN, so number findings inside them are dropped.
    static func ibans(_ lowered: [UInt8], into hits: inout [DetectorHit], shapes: inout [Range<Int>]) {
        let n = lowered.count
        var chars: [UInt8] = []
        chars.reserveCapacity(34)
        var i = 0
        while i + 4 <= n {
            // Skip to the next two lower-case letters followed by two digits (country and check digits).
            i = lowered.withUnsafeBufferPointer { text in
                var k = i
                while k + 4 <= n {
                    // Positions whose third byte is not a digit cannot start one.
                    k = Bytes.firstDigit(text, from: k + 2) - 2
                    guard k + 4 <= n else { break }
                    if Bytes.isDigit(text[k + 3]), Bytes.isLower(text[k]), Bytes.isLower(text[k + 1]) { return k }
                    // A start inside the digit run from k + 2 would need a letter there: skip the run.
                    k += 3
                    while k < n, Bytes.isDigit(text[k]) { k += 1 }
                }
                return n
            }
            guard i + 4 <= n else { break }
            let length = ibanLengths[Int(lowered[i] - 97) * 26 + Int(lowered[i + 1] - 97)]
            guard length > 0 else {
                i += 1
                continue
            }
            chars.removeAll(keepingCapacity: true)
            var j = i
            while chars.count < length, j < n {
                let b = lowered[j]
                if Bytes.isLower(b) || Bytes.isDigit(b) {
                    chars.append(b & ~(Bytes.isLower(b) ? 0x20 : 0))
                    j += 1
                } else if isGroupSeparator(b), chars.count % 4 == 0, j + 1 < n, Bytes.isAlnum(lowered[j + 1]) {
                    j += 1
                } else {
                    break
                }
            }
            if chars.count == length { shapes.append(i..<j) }
            if chars.count == length, Checksums.ibanMod97(chars) {
                hits.append(DetectorHit(detector: BuiltinDetector.iban.rawValue, range: i..<j, confidence: 0.95))
                i = j
            } else {
                i += 1
            }
        }
    }

    private static func isGroupSeparator(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }

    // MARK: ICD-10

    /// - Parameter bytes: the normalised message in lower case (codes are found in any case).
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
        guard i + 3 <= n, Bytes.isLower(b[i]), b[i] != UInt8(ascii: "u"), Bytes.isDigit(b[i + 1]),
            Bytes.isDigit(b[i + 2]) || Bytes.isLower(b[i + 2])
        else { return nil }
        var j = i + 3
        if j + 1 < n, b[j] == UInt8(ascii: "."), Bytes.isDigit(b[j + 1]) || Bytes.isLower(b[j + 1]) {
            j += 1
            let start = j
            while j < n, j - start < 4, Bytes.isDigit(b[j]) || Bytes.isLower(b[j]) { j += 1 }
        }
        guard j == n || !Bytes.isAlnum(b[j]) else { return nil }
        return j
    }
}
