// UTC timestamps for audit records: RFC 3339 with exactly three fractional digits and a `Z`,
// e.g. `2026-11-29T02:40:00.123Z`. Records store whole milliseconds, so a record's text is
// reproducible byte for byte; the civil-date arithmetic is Howard Hinnant's days_from_civil /
// civil_from_days, written here without Foundation's calendar (which is slow and locale-bound).
public import Foundation

/// A point in time in whole milliseconds since 1970-01-01T00:00:00Z.
public struct UTCMillis: Sendable, Hashable, Comparable {
    /// Milliseconds since the Unix epoch (negative before 1970).
    public var value: Int64

    public init(_ value: Int64) { self.value = value }

    /// The instant `date`, rounded to the nearest millisecond.
    public init(_ date: Date) {
        self.value = Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// The current time.
    public static var now: UTCMillis { UTCMillis(Date()) }

    /// This instant as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(value) / 1000) }

    public static func < (a: UTCMillis, b: UTCMillis) -> Bool { a.value < b.value }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public var text: String {
        let (days, msOfDay) = floorDivide(value, 86_400_000)
        let (year, month, day) = Self.civil(fromDays: days)
        let hour = msOfDay / 3_600_000
        let minute = msOfDay / 60_000 % 60
        let second = msOfDay / 1000 % 60
        let milli = msOfDay % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):"
            + "\(pad(second, 2)).\(pad(milli, 3))Z"
    }

    /// Parses exactly the form `text` produces (years 0000-9999); nil for anything else.
    public init?(text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 24, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54, bytes[13] == 0x3A,
            bytes[16] == 0x3A, bytes[19] == 0x2E, bytes[23] == 0x5A
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var result: Int64 = 0
            for index in range {
                let digit = bytes[index]
                guard digit >= 0x30, digit <= 0x39 else { return nil }
                result = result * 10 + Int64(digit - 0x30)
            }
            return result
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            let milli = number(20..<23), (1...12).contains(month), day >= 1,
            day <= Self.daysInMonth(year: year, month: month), hour < 24, minute < 60, second < 60
        else { return nil }
        let days = Self.days(fromCivilYear: year, month: month, day: day)
        value = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli
    }

    /// Parses a day (`2026-11-29`, midnight UTC) or a full timestamp; for command-line ranges.
    public init?(dayOrTime text: String) {
        if let full = UTCMillis(text: text) {
            self = full
        } else if text.utf8.count == 10, let midnight = UTCMillis(text: text + "T00:00:00.000Z") {
            self = midnight
        } else if text.utf8.count == 20, text.hasSuffix("Z"),
            let whole = UTCMillis(text: text.dropLast() + ".000Z")
        {
            self = whole
        } else {
            return nil
        }
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func days(fromCivilYear year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400).0
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let shifted = days + 719_468
        let era = floorDivide(shifted, 146_097).0
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// Division rounding toward negative infinity, with a non-negative remainder.
private func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
    let quotient = a / b
    let remainder = a % b
    return remainder < 0 ? (quotient - 1, remainder + b) : (quotient, remainder)
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
