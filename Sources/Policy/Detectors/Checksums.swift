// The check-digit algorithms that decide whether a number-shaped string is really an identifier.
// Each takes decimal digit values (0-9), not characters. Sources: ISO/IEC 7812 (Luhn), ISO 13616
// (IBAN mod-97), NHS Digital data dictionary (NHS number mod-11), CMS NPI standard (Luhn over the
// 80840 prefix), ABA routing number (3-7-1 weights), SSA (SSN area/group/serial rules).

enum Checksums {
    /// Luhn: doubling every second digit from the right, the sum is a multiple of 10.
    static func luhn(_ digits: [Int]) -> Bool {
        guard !digits.isEmpty else { return false }
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            if offset % 2 == 1 {
                let doubled = digit * 2
                sum += doubled > 9 ? doubled - 9 : doubled
            } else {
                sum += digit
            }
        }
        return sum % 10 == 0
    }

    /// US NPI: ten digits starting 1 or 2, Luhn-valid once prefixed with 80840.
    static func npi(_ digits: [Int]) -> Bool {
        guard digits.count == 10, digits[0] == 1 || digits[0] == 2 else { return false }
        return luhn([8, 0, 8, 4, 0] + digits)
    }

    /// UK NHS number: weights 10...2 over the first nine digits; check = 11 - sum mod 11, where 11
    /// means 0 and 10 means the number is invalid.
    static func nhs(_ digits: [Int]) -> Bool {
        guard digits.count == 10 else { return false }
        var sum = 0
        for i in 0..<9 { sum += digits[i] * (10 - i) }
        var check = 11 - sum % 11
        if check == 11 { check = 0 }
        return check != 10 && check == digits[9]
    }

    /// ABA routing transit number: 3(d1+d4+d7) + 7(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10), and the
    /// first two digits are a Federal Reserve district (00-12), thrift (21-32), electronic (61-72)
    /// or traveller's cheque (80) prefix.
    static func abaRouting(_ d: [Int]) -> Bool {
        guard d.count == 9 else { return false }
        let prefix = d[0] * 10 + d[1]
        guard (0...12).contains(prefix) || (21...32).contains(prefix) || (61...72).contains(prefix) || prefix == 80
        else { return false }
        let sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
        return sum % 10 == 0 && d.contains { $0 != 0 }
    }

    /// US SSN structure: area not 000, 666 or 900-999; group not 00; serial not 0000.
    static func ssn(_ d: [Int]) -> Bool {
        guard d.count == 9 else { return false }
        let area = d[0] * 100 + d[1] * 10 + d[2]
        let group = d[3] * 10 + d[4]
        let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8]
        return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
    }

    /// IBAN mod-97 (ISO 13616): move the first four characters to the end, letters become 10-35,
    /// and the number modulo 97 is 1. `chars` are upper-case ASCII letters and digits.
    static func ibanMod97(_ chars: [UInt8]) -> Bool {
        guard chars.count >= 5 else { return false }
        var remainder = 0
        for c in chars[4...] + chars[0..<4] {
            if Bytes.isDigit(c) {
                remainder = (remainder * 10 + Bytes.value(c)) % 97
            } else if Bytes.isUpper(c) {
                remainder = (remainder * 100 + Int(c) - 55) % 97
            } else {
                return false
            }
        }
        return remainder == 1
    }

    /// IBAN length by country (ISO 13616 registry, SWIFT release 2024).
    static let ibanLength: [String: Int] = [
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
        "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
        "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
        "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
        "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
        "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
        "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
        "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
        "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
    ]

    /// Card brands by issuer identification number range and length (ISO/IEC 7812 assignments as
    /// the networks publish them).
    static func cardBrand(_ d: [Int]) -> String? {
        let n = d.count
        func prefix(_ k: Int) -> Int { d.prefix(k).reduce(0) { $0 * 10 + $1 } }
        if d[0] == 4, [13, 16, 19].contains(n) { return "visa" }
        if n == 16, (51...55).contains(prefix(2)) || (2221...2720).contains(prefix(4)) { return "mastercard" }
        if n == 15, [34, 37].contains(prefix(2)) { return "amex" }
        if (16...19).contains(n),
            prefix(4) == 6011 || (644...649).contains(prefix(3)) || prefix(2) == 65
                || (622126...622925).contains(prefix(6))
        {
            return "discover"
        }
        if (16...19).contains(n), (3528...3589).contains(prefix(4)) { return "jcb" }
        if (14...19).contains(n), (300...305).contains(prefix(3)) || [36, 38, 39].contains(prefix(2)) {
            return "diners"
        }
        if (16...19).contains(n), prefix(2) == 62 { return "unionpay" }
        if (13...19).contains(n), [50, 56, 57, 58].contains(prefix(2)) || prefix(2) == 67 || prefix(2) == 63 {
            return "maestro"
        }
        return nil
    }
}
