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
    /// Each separator as its bytes packed little-endian (one or two bytes).
    var separators: [UInt16] = []
    var plus = false
    var paren = false

    /// All separators are the same single space or dash (or there are none).
    var plainSeparators: Bool {
        guard let first = separators.first else { return true }
        return (first == 0x20 || first == 0x2D) && separators.allSatisfy { $0 == first }
    }

    var contiguous: Bool { groups.count == 1 && !plus && !paren }
}

enum NumberDetectors {
    /// Separators accepted between digit groups: " ", "-", ".", ") ", ")", " (", ")-".
    private static func isSeparator(_ bytes: [UInt8], _ j: Int, length: Int) -> Bool {
        let a = bytes[j]
        if length == 1 {
            return a == 0x20 || a == 0x2D || a == 0x2E || a == 0x29
        }
        let b = bytes[j + 1]
        return (a == 0x29 && (b == 0x20 || b == 0x2D)) || (a == 0x20 && b == 0x28)
    }

    static let maxDigits = 24

    /// Fewest digits any number detector looks at (E.164 with a `+`); shorter runs are skipped
    /// before anything is allocated, which keeps prose full of small numbers cheap.
    static let minDigits = 8

    /// Length of the separator at `j` if a digit follows it, else 0.
    private static func separatorLength(_ bytes: [UInt8], _ j: Int) -> Int {
        let n = bytes.count
        if j + 2 < n, Bytes.isDigit(bytes[j + 2]), isSeparator(bytes, j, length: 2) { return 2 }
        if j + 1 < n, Bytes.isDigit(bytes[j + 1]), isSeparator(bytes, j, length: 1) { return 1 }
        return 0
    }

    /// Cuts `bytes` into number runs with clean boundaries and 8 to 24 digits.
    static func runs(_ bytes: [UInt8]) -> [NumberRun] {
        var result: [NumberRun] = []
        let n = bytes.count
        var i = 0
        while i < n {
            i = Bytes.firstIndex(in: bytes, from: i, where: Bytes.isDigit)
            guard i < n else { break }
            guard i == 0 || !Bytes.isDigit(bytes[i - 1]) else {
                i += 1
                continue
            }
            // First pass: find the end and count digits without allocating.
            var j = i
            var count = 0
            while true {
                while j < n, Bytes.isDigit(bytes[j]) {
                    count += 1
                    j += 1
                }
                let length = separatorLength(bytes, j)
                guard length > 0 else { break }
                j += length
            }
            let runStart = i
            i = j
            guard count >= minDigits, count <= maxDigits else { continue }
            var run = NumberRun(start: runStart, end: j)
            if runStart > 0, bytes[runStart - 1] == UInt8(ascii: "+") {
                run.plus = true
                run.start = runStart - 1
            } else if runStart > 0, bytes[runStart - 1] == UInt8(ascii: "(") {
                var firstEnd = runStart
                while firstEnd < n, Bytes.isDigit(bytes[firstEnd]) { firstEnd += 1 }
                if firstEnd < j, bytes[firstEnd] == UInt8(ascii: ")") {
                    run.paren = true
                    run.start = runStart - 1
                }
            }
            guard cleanBoundaries(bytes, run) else { continue }
            // Second pass, for the few long runs with clean edges: record digits, groups, separators.
            run.digits.reserveCapacity(count)
            j = runStart
            while true {
                let groupStart = j
                while j < n, Bytes.isDigit(bytes[j]) {
                    run.digits.append(Bytes.value(bytes[j]))
                    j += 1
                }
                run.groups.append(j - groupStart)
                run.end = j
                let length = separatorLength(bytes, j)
                guard length > 0 else { break }
                run.separators.append(length == 1 ? UInt16(bytes[j]) : UInt16(bytes[j]) | UInt16(bytes[j + 1]) << 8)
                j += length
            }
            result.append(run)
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
            if !claimed, !labelledAsIdentifier(run.start, context),
                let confidence = phoneConfidence(run, context: context)
            {
                hit(.phone, confidence)
            }
        }
    }

    /// An identifier label right before the number ("NHS no. ", "Order #", "ref: ") means it is not a phone number.
    private static func labelledAsIdentifier(_ start: Int, _ context: MessageContext) -> Bool {
        [ContextClass.identifier, .nhs, .ssn, .npi, .aba].contains { context.has($0, before: start, window: 4) }
    }

    /// UK national numbers are written 3-4-4 (020 7946 0958), 4-3-4 (0161 496 0000), 5-6 or 5-3-3 (mobiles).
    private static let ukGroupings: Set<[Int]> = [[3, 4, 4], [4, 3, 4], [5, 6], [5, 3, 3]]

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
        // UK national format: 11 digits starting 0, in one of the usual groupings.
        if d.count == 11, d[0] == 0, d[1] != 0, ukGroupings.contains(g), !run.paren {
            return 0.7
        }
        if run.contiguous, d.count == 10 || d.count == 11, context.has(.phone, before: run.start, window: 16) {
            return 0.6
        }
        return nil
    }
}
