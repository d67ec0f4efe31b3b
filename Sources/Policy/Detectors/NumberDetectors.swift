// The number-shaped detectors: card, SSN, NHS, NPI, ABA routing and phone numbers.
// One linear pass cuts the message into "number runs" (digit groups joined by single separators,
// e.g. `4111 1111 1111 1111`, `(555) 123-4567`, `+44 20 7946 0958`), rejecting runs glued to other
// words (`ORD-2024-118834`, `12.50`, `2024/01/02`). Each run is then judged by shape, label and checksum.

/// Digit groups found in the message, with how they were written.
struct NumberRun {
    var start: Int
    var end: Int
    var digits: [Int] = []
    var groups: [Int] = []
    var separators: [[UInt8]] = []
    var plus = false
    var paren = false

    /// All separators are the same single space or dash (or there are none).
    var plainSeparators: Bool {
        guard let first = separators.first else { return true }
        return (first == [0x20] || first == [0x2D]) && separators.allSatisfy { $0 == first }
    }

    var contiguous: Bool { groups.count == 1 && !plus && !paren }
}

enum NumberDetectors {
    /// Separators accepted between digit groups.
    private static let separatorSet: Set<[UInt8]> = [
        Array(" ".utf8), Array("-".utf8), Array(".".utf8), Array(") ".utf8), Array(")".utf8), Array(" (".utf8),
        Array(")-".utf8),
    ]

    static let maxDigits = 24

    /// Cuts `bytes` into number runs with clean boundaries.
    static func runs(_ bytes: [UInt8]) -> [NumberRun] {
        var result: [NumberRun] = []
        let n = bytes.count
        var i = 0
        while i < n {
            guard Bytes.isDigit(bytes[i]), i == 0 || !Bytes.isDigit(bytes[i - 1]) else {
                i += 1
                continue
            }
            var run = NumberRun(start: i, end: i)
            if i > 0, bytes[i - 1] == UInt8(ascii: "+") {
                run.plus = true
                run.start = i - 1
            } else if i > 0, bytes[i - 1] == UInt8(ascii: "(") {
                run.paren = true
                run.start = i - 1
            }
            var j = i
            var tooLong = false
            while true {
                let groupStart = j
                while j < n, Bytes.isDigit(bytes[j]) {
                    if run.digits.count < maxDigits { run.digits.append(Bytes.value(bytes[j])) } else { tooLong = true }
                    j += 1
                }
                run.groups.append(j - groupStart)
                run.end = j
                // A separator of one or two bytes, then a digit, continues the run.
                var matched: [UInt8]? = nil
                for length in [2, 1] where j + length < n && Bytes.isDigit(bytes[j + length]) {
                    let candidate = Array(bytes[j..<(j + length)])
                    if separatorSet.contains(candidate) {
                        matched = candidate
                        break
                    }
                }
                guard let separator = matched else { break }
                run.separators.append(separator)
                j += separator.count
            }
            if run.paren, run.separators.first?.first != UInt8(ascii: ")") {
                run.paren = false
                run.start = i
            }
            i = j
            if !tooLong, cleanBoundaries(bytes, run) { result.append(run) }
        }
        return result
    }

    private static func cleanBoundaries(_ bytes: [UInt8], _ run: NumberRun) -> Bool {
        let n = bytes.count
        if run.start > 0 {
            let before = bytes[run.start - 1]
            if Bytes.isAlnum(before) { return false }
            if before == UInt8(ascii: "-") || before == UInt8(ascii: "/") || before == UInt8(ascii: ".")
                || before == UInt8(ascii: "+")
            {
                if run.start > 1, Bytes.isAlnum(bytes[run.start - 2]) { return false }
            }
        }
        if run.end < n {
            let after = bytes[run.end]
            if Bytes.isAlnum(after) { return false }
            if run.end + 1 < n {
                let next = bytes[run.end + 1]
                if (after == UInt8(ascii: "-") || after == UInt8(ascii: "/")) && Bytes.isAlnum(next) { return false }
                if (after == UInt8(ascii: ".") || after == UInt8(ascii: ",")) && Bytes.isDigit(next) { return false }
            }
        }
        return true
    }

    /// Judges every run; `enabled` says which built-ins the policy uses.
    static func detect(
        _ bytes: [UInt8], context: MessageContext, enabled: Set<BuiltinDetector>, into hits: inout [DetectorHit]
    ) {
        for run in runs(bytes) {
            var claimed = false
            func hit(_ d: BuiltinDetector, _ confidence: Double) {
                claimed = true
                if enabled.contains(d) {
                    hits.append(DetectorHit(detector: d.rawValue, range: run.start..<run.end, confidence: confidence))
                }
            }
            let d = run.digits
            let simple = !run.plus && !run.paren && run.plainSeparators
            if simple, (13...19).contains(d.count), run.groups.count <= 5, Checksums.cardBrand(d) != nil,
                Checksums.luhn(d)
            {
                hit(.creditCard, 0.95)
            }
            if simple, d.count == 9, Checksums.ssn(d) {
                if run.groups == [3, 2, 4] {
                    hit(.usSSN, 0.9)
                } else if run.groups == [9], context.has(.ssn, before: run.start, window: 24) {
                    hit(.usSSN, 0.85)
                }
            }
            if simple, d.count == 10, run.groups == [3, 3, 4] || run.groups == [10],
                context.has(.nhs, before: run.start, window: 24), Checksums.nhs(d)
            {
                hit(.ukNHS, 0.95)
            }
            if run.contiguous, d.count == 10, context.has(.npi, before: run.start, window: 24), Checksums.npi(d) {
                hit(.usNPI, 0.95)
            }
            if run.contiguous, d.count == 9, context.has(.aba, before: run.start, window: 32), Checksums.abaRouting(d) {
                hit(.abaRouting, 0.9)
            }
            if !claimed, !context.has(.identifier, before: run.start, window: 16),
                let confidence = phoneConfidence(run, context: context)
            {
                hit(.phone, confidence)
            }
        }
    }

    private static func phoneConfidence(_ run: NumberRun, context: MessageContext) -> Double? {
        let d = run.digits
        let g = run.groups
        if run.plus {
            return (8...15).contains(d.count) && d[0] != 0 ? 0.85 : nil
        }
        // North American numbering plan: NPA-NXX-XXXX, optionally with a leading 1.
        if g == [3, 3, 4] || (g == [1, 3, 3, 4] && d[0] == 1) {
            let area = g.count == 4 ? 1 : 0
            if d[area] >= 2, d[area + 3] >= 2 { return 0.75 }
        }
        // UK national format: 11 digits starting 0, written in two or three groups.
        if d.count == 11, d[0] == 0, d[1] != 0, (2...3).contains(g.count), g.allSatisfy({ $0 >= 3 }), !run.paren {
            return 0.7
        }
        if run.contiguous, d.count == 10 || d.count == 11, context.has(.phone, before: run.start, window: 16) {
            return 0.6
        }
        return nil
    }
}
