// Dates of birth: a date is personal data only next to a label ("DOB", "date of birth", "born"), so
// this detector looks for dates in a bounded window after each label (which reaches onto the next
// line: "Date of birth:\n14 March 1980") and just before it ("14/03/1980 (DOB)"). Dates are read in
// the forms people write: numeric with any separator (14/03/1980, 1980-03-14, 14.03.80, 14 03 1980),
// compact (19800314, 14031980), and with month names or abbreviations, ordinals and "of"
// (14th of March 1980, Mar 14th, 1980, 14-Mar-1980). The text is normalised and lower case.

enum DateDetector {
    /// How far after a label's end a date may start, and how far before a label's start one may end.
    static let windowAfter = 40
    static let windowBefore = 16
    /// Longest date form (with a long month name and an ordinal), to bound the backward search.
    static let longestDate = 32

    private static let months: [[UInt8]] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ].map { Array($0.utf8) }

    static func datesOfBirth(_ text: [UInt8], context: MessageContext, into hits: inout [DetectorHit]) {
        var lastEnd = -1
        func report(_ range: Range<Int>) {
            hits.append(DetectorHit(detector: BuiltinDetector.dateOfBirth.rawValue, range: range, confidence: 0.85))
            lastEnd = range.upperBound
        }
        let starts = context.starts(.dob)
        for (labelStart, labelEnd) in zip(starts, context.ends(.dob)) {
            // Before the label: the date ending nearest to it, within the window ("2017-07-11 11/5/59 is
            // her date of birth" labels the second date, not the first).
            var k = max(lastEnd, labelStart - windowBefore - longestDate, 0)
            var nearest: Range<Int>?
            while k < labelStart {
                if wordStart(text, k), let end = parseDate(text, at: k), end <= labelStart,
                    labelStart - end <= windowBefore, end > (nearest?.upperBound ?? -1)
                {
                    nearest = k..<end
                }
                k += 1
            }
            if let nearest { report(nearest) }
            // After the label.
            k = max(labelEnd, lastEnd)
            let limit = min(text.count, labelEnd + windowAfter)
            while k < limit {
                if wordStart(text, k), let end = parseDate(text, at: k) {
                    report(k..<end)
                    break
                }
                k += 1
            }
        }
    }

    private static func wordStart(_ b: [UInt8], _ k: Int) -> Bool {
        k == 0 || !Bytes.isAlnum(b[k - 1])
    }

    /// Reads a number of 1...maxLength digits at `i`; returns (value, digits read).
    private static func number(_ b: [UInt8], _ i: Int, maxLength: Int) -> (value: Int, length: Int)? {
        var j = i
        var value = 0
        while j < b.count, j - i < maxLength, Bytes.isDigit(b[j]) {
            value = value * 10 + Bytes.value(b[j])
            j += 1
        }
        guard j > i, j == b.count || !Bytes.isDigit(b[j]) else { return nil }
        return (value, j - i)
    }

    private static func validYear(_ y: (value: Int, length: Int)) -> Bool {
        y.length == 2 || (y.length == 4 && (1900...2099).contains(y.value))
    }

    private static func isDateSeparator(_ b: UInt8) -> Bool {
        b == 0x20 || b == UInt8(ascii: "/") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
            || b == UInt8(ascii: ",")
    }

    /// Skips up to two separator bytes ("., " or " - "), returning the next position.
    private static func skipSeparators(_ b: [UInt8], _ i: Int) -> Int {
        var j = i
        while j < b.count, j - i < 3, isDateSeparator(b[j]) { j += 1 }
        return j
    }

    /// A date starting at `i`; returns its end.
    static func parseDate(_ b: [UInt8], at i: Int) -> Int? {
        guard i < b.count else { return nil }
        if Bytes.isDigit(b[i]) {
            return numericDate(b, i) ?? dayFirstNamedDate(b, i)
        }
        return monthFirstDate(b, i)
    }

    /// 1980-03-14, 14/03/1980, 03.14.80, 14 03 1980 (one separator, the same twice); or eight digits.
    private static func numericDate(_ b: [UInt8], _ i: Int) -> Int? {
        let n = b.count
        guard let first = number(b, i, maxLength: 8) else { return nil }
        var j = i + first.length
        if first.length == 8 {
            let v = first.value
            let (a, m, c) = (v / 1_000_000, v / 10_000 % 100, v % 10_000)
            let yearFirst =
                (1900...2099).contains(v / 10_000) && (1...12).contains(v / 100 % 100) && (1...31).contains(v % 100)
            let dayFirst =
                (1900...2099).contains(c) && a >= 1 && m >= 1 && ((a <= 31 && m <= 12) || (a <= 12 && m <= 31))
            return yearFirst || dayFirst ? j : nil
        }
        guard first.length == 4 || first.length <= 2, j + 1 < n else { return nil }
        let separator = b[j]
        guard
            separator == 0x20 || separator == UInt8(ascii: "/") || separator == UInt8(ascii: "-")
                || separator == UInt8(ascii: ".")
        else { return nil }
        j += 1
        guard let second = number(b, j, maxLength: 2) else { return nil }
        j += second.length
        guard j + 1 < n, b[j] == separator, let third = number(b, j + 1, maxLength: 4) else { return nil }
        j += 1 + third.length
        if first.length == 4 {
            guard (1900...2099).contains(first.value), (1...12).contains(second.value), third.length <= 2,
                (1...31).contains(third.value)
            else { return nil }
        } else {
            guard validYear(third), first.value >= 1, second.value >= 1,
                (first.value <= 12 && second.value <= 31) || (first.value <= 31 && second.value <= 12)
            else { return nil }
        }
        return j
    }

    /// A day (1-31) with an optional ordinal suffix; returns its end.
    private static func day(_ b: [UInt8], _ i: Int) -> Int? {
        guard let d = number(b, i, maxLength: 2), (1...31).contains(d.value) else { return nil }
        var j = i + d.length
        if j + 1 < b.count, ordinal(b[j], b[j + 1]), j + 2 == b.count || !Bytes.isAlnum(b[j + 2]) { j += 2 }
        return j
    }

    private static func ordinal(_ a: UInt8, _ c: UInt8) -> Bool {
        (a == UInt8(ascii: "s") && c == UInt8(ascii: "t")) || (a == UInt8(ascii: "n") && c == UInt8(ascii: "d"))
            || (a == UInt8(ascii: "r") && c == UInt8(ascii: "d")) || (a == UInt8(ascii: "t") && c == UInt8(ascii: "h"))
    }

    /// A four-digit or two-digit year at `i`; returns its end.
    private static func year(_ b: [UInt8], _ i: Int) -> Int? {
        guard let y = number(b, i, maxLength: 4), validYear(y) else { return nil }
        return i + y.length
    }

    /// 14 March 1980, 14th of March 1980, 14-Mar-1980, 14 mar. 80
    private static func dayFirstNamedDate(_ b: [UInt8], _ i: Int) -> Int? {
        guard let afterDay = day(b, i) else { return nil }
        var j = skipSeparators(b, afterDay)
        if j + 3 <= b.count, b[j] == UInt8(ascii: "o"), b[j + 1] == UInt8(ascii: "f"), b[j + 2] == 0x20 { j += 3 }
        guard j > afterDay, let afterMonth = month(b, j) else { return nil }
        let y = skipSeparators(b, afterMonth)
        guard y > afterMonth else { return nil }
        return year(b, y)
    }

    /// March 14, 1980 / Mar 14th 1980 / March 1980 is not enough (a day is required).
    private static func monthFirstDate(_ b: [UInt8], _ i: Int) -> Int? {
        guard let afterMonth = month(b, i) else { return nil }
        let d = skipSeparators(b, afterMonth)
        guard d > afterMonth, let afterDay = day(b, d) else { return nil }
        let y = skipSeparators(b, afterDay)
        guard y > afterDay else { return nil }
        return year(b, y)
    }

    /// A month name (three-letter prefix, optionally the rest of the word and a dot); returns its end.
    private static func month(_ b: [UInt8], _ i: Int) -> Int? {
        guard i + 3 <= b.count, months.contains(where: { $0.elementsEqual(b[i..<(i + 3)]) }) else { return nil }
        var j = i + 3
        while j < b.count, Bytes.isLower(b[j]), j - i < 9 { j += 1 }
        if j < b.count, b[j] == UInt8(ascii: ".") { j += 1 }
        return j
    }
}
