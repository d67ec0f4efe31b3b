// The number-shaped detectors: card, SSN, NHS, NPI, ABA routing and phone numbers, over normalised
// text (ASCII digits, single spaces). One linear pass cuts the message into maximal "number runs":
// digit groups joined by one separator each (space, line break, `-`, ` - `, `.`, `/`, `_`, or a phone's
// parentheses), whatever letters stand around them. Within a run every sub-run of whole groups is
// a candidate, so a card followed by its expiry date, two cards side by side, or an SSN followed by
// a date are each found; a candidate counts only with a valid structure and checksum (and, for the
// identifiers that look like any other number, its label). Candidates are bounded by the longest
// identifier (19 digits), so a run of n groups costs O(19 n): no backtracking.

/// Digit groups found in the message, with how they were written.
struct NumberRun {
    var start: Int
    var end: Int
    /// Every digit of the run, in order.
    var digits: [Int] = []
    /// Length of each digit group.
    var groups: [Int] = []
    /// Byte offset where each group starts.
    var groupStarts: [Int] = []
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

    /// Empties the run for the next one, keeping its storage.
    mutating func reset(start: Int, end: Int) {
        self.start = start
        self.end = end
        digits.removeAll(keepingCapacity: true)
        groups.removeAll(keepingCapacity: true)
        groupStarts.removeAll(keepingCapacity: true)
        separators.removeAll(keepingCapacity: true)
        plus = false
        paren = false
    }
}

enum NumberDetectors {
    /// Separators accepted between digit groups: " ", "\n", "-", ".", "/", "_", ") ", ")", " (", ")-", and
    /// " - " (recorded as "-").
    private static func isSeparator(_ bytes: UnsafeBufferPointer<UInt8>, _ j: Int, length: Int) -> Bool {
        let a = bytes[j]
        if length == 1 {
            return a == 0x20 || a == 0x0A || a == 0x2D || a == 0x2E || a == 0x2F || a == 0x29 || a == 0x5F
        }
        let b = bytes[j + 1]
        if length == 3 { return a == 0x20 && b == 0x2D && bytes[j + 2] == 0x20 }
        return (a == 0x29 && (b == 0x20 || b == 0x2D)) || (a == 0x20 && b == 0x28)
    }

    /// The separator of `length` bytes at `j` as recorded in a run: its bytes packed little-endian, except
    /// " - ", which groups digits as "-" does.
    private static func separatorCode(_ bytes: UnsafeBufferPointer<UInt8>, _ j: Int, length: Int) -> UInt16 {
        switch length {
        case 1: UInt16(bytes[j])
        case 2: UInt16(bytes[j]) | UInt16(bytes[j + 1]) << 8
        default: 0x2D
        }
    }

    /// Longest run the phone detector judges as a whole.
    static let maxPhoneDigits = 24
    /// Longest identifier a sub-run is tried as (a 19-digit card).
    static let maxCandidateDigits = 19

    /// Fewest digits any number detector looks at (E.164 with a `+`); shorter runs are skipped
    /// before anything is allocated, which keeps prose full of small numbers cheap.
    static let minDigits = 8

    /// Length of the separator at `j` if a digit follows it, else 0.
    private static func separatorLength(_ bytes: UnsafeBufferPointer<UInt8>, _ j: Int) -> Int {
        let n = bytes.count
        if j + 3 < n, Bytes.isDigit(bytes[j + 3]), isSeparator(bytes, j, length: 3) { return 3 }
        if j + 2 < n, Bytes.isDigit(bytes[j + 2]), isSeparator(bytes, j, length: 2) { return 2 }
        if j + 1 < n, Bytes.isDigit(bytes[j + 1]), isSeparator(bytes, j, length: 1) { return 1 }
        return 0
    }

    /// Finds the next maximal number run of at least `minDigits` digits from `position` and fills
    /// `run` with it (reusing its storage: a message allocates run storage once, not per run).
    /// - Returns: false when there is none; `position` is then past the end.
    static func nextRun(_ bytes: UnsafeBufferPointer<UInt8>, from position: inout Int, into run: inout NumberRun)
        -> Bool
    {
        let n = bytes.count
        var i = position
        while i < n {
            i = Bytes.firstDigit(bytes, from: i)
            guard i < n else { break }
            // First pass: find the end and count digits without touching the run.
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
            guard count >= minDigits else { continue }
            position = i
            run.reset(start: runStart, end: j)
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
            // Second pass: record digits, groups and separators.
            j = runStart
            while true {
                let groupStart = j
                while j < n, Bytes.isDigit(bytes[j]) {
                    run.digits.append(Bytes.value(bytes[j]))
                    j += 1
                }
                run.groups.append(j - groupStart)
                run.groupStarts.append(groupStart)
                run.end = j
                let length = separatorLength(bytes, j)
                guard length > 0 else { break }
                run.separators.append(separatorCode(bytes, j, length: length))
                j += length
            }
            return true
        }
        position = n
        return false
    }

    /// Whether the run stands alone (not glued to a word, an amount, a path or a date): required
    /// of phone numbers only, which have no checksum to tell them from other numbers.
    private static func cleanBoundaries(_ bytes: UnsafeBufferPointer<UInt8>, _ run: NumberRun) -> Bool {
        cleanStart(bytes, run.start) && cleanEnd(bytes, run.end)
    }

    /// Nothing glued before `start`: no letter or digit, nor one behind a `-`, `/` or `.`.
    private static func cleanStart(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int) -> Bool {
        guard start > 0 else { return true }
        let before = bytes[start - 1]
        if Bytes.isAlnum(before) { return false }
        if before == UInt8(ascii: "-") || before == UInt8(ascii: "/") || before == UInt8(ascii: ".") {
            if start > 1, Bytes.isAlnum(bytes[start - 2]) { return false }
        }
        return true
    }

    /// Nothing glued after `end`: no letter or digit, no `-` or `/` before a word, no decimal part.
    private static func cleanEnd(_ bytes: UnsafeBufferPointer<UInt8>, _ end: Int) -> Bool {
        let n = bytes.count
        guard end < n else { return true }
        let after = bytes[end]
        if Bytes.isAlnum(after) { return false }
        if end + 1 < n {
            let next = bytes[end + 1]
            if (after == UInt8(ascii: "-") || after == UInt8(ascii: "/")) && Bytes.isAlnum(next) { return false }
            if (after == UInt8(ascii: ".") || after == UInt8(ascii: ",")) && Bytes.isDigit(next) { return false }
        }
        return true
    }

    /// Separators an identifier may be grouped with; a line break may stand in for any of them.
    private static func identifierSeparator(_ s: UInt16) -> Bool {
        s == 0x20 || s == 0x2D || s == 0x2E || s == 0x2F || s == 0x0A || s == 0x5F
    }

    /// How card numbers are grouped: one block, fours (the last group shorter), or Amex/Diners 4-6-5 and 4-6-4.
    private static func cardGrouping(_ groups: ArraySlice<Int>) -> Bool {
        let s = groups.startIndex
        if groups.count == 1 { return true }
        if groups.count == 3, groups[s] == 4, groups[s + 1] == 6, groups[s + 2] == 5 || groups[s + 2] == 4 {
            return true
        }
        return groups.dropLast().allSatisfy { $0 == 4 } && (1...4).contains(groups[groups.endIndex - 1])
    }

    /// Judges every run; `enabled` says which built-ins the policy uses.
    static func detect(
        _ bytes: [UInt8], context: MessageContext, enabled: Set<BuiltinDetector>, into hits: inout [DetectorHit]
    ) {
        bytes.withUnsafeBufferPointer { text in detect(text, context: context, enabled: enabled, into: &hits) }
    }

    private static func detect(
        _ bytes: UnsafeBufferPointer<UInt8>, context: MessageContext, enabled: Set<BuiltinDetector>,
        into hits: inout [DetectorHit]
    ) {
        // The candidate's groups with each line break joining the groups on either side: a line
        // break is either where a group ended or where a wrapped paste split one ("4111 11" /
        // "11 1111 1111"); the card grouping rules accept either reading.
        var joinedGroups: [Int] = []
        joinedGroups.reserveCapacity(maxCandidateDigits)
        var taken: [Range<Int>] = []
        var run = NumberRun(start: 0, end: 0)
        var position = 0
        while nextRun(bytes, from: &position, into: &run) {
            var claimed = false
            taken.removeAll(keepingCapacity: true)
            func hit(_ d: BuiltinDetector, _ range: Range<Int>, _ confidence: Double) {
                claimed = true
                taken.append(range)
                if enabled.contains(d) {
                    hits.append(DetectorHit(detector: d.rawValue, range: range, confidence: confidence))
                }
            }
            // Every sub-run of whole groups, up to the longest identifier, with one kind of separator.
            var first = 0
            var digitOffset = 0
            while first < run.groups.count {
                var cardEnd = -1
                var cardRange = 0..<0
                var separator: UInt16 = 0
                var last = first
                var count = 0
                joinedGroups.removeAll(keepingCapacity: true)
                while last < run.groups.count {
                    var joined = false
                    if last > first {
                        let s = run.separators[last - 1]
                        guard identifierSeparator(s) else { break }
                        if s == 0x0A {
                            joined = true
                        } else if separator == 0 {
                            separator = s
                        } else if separator != s {
                            break
                        }
                    }
                    count += run.groups[last]
                    guard count <= maxCandidateDigits else { break }
                    if joined {
                        joinedGroups[joinedGroups.count - 1] += run.groups[last]
                    } else {
                        joinedGroups.append(run.groups[last])
                    }
                    // The candidate's digits and groups as written are slices of the run's; they are
                    // copied out only at the lengths an identifier can have.
                    let groups = run.groups[first...last]
                    let digits = digitOffset..<(digitOffset + count)
                    let range = run.groupStarts[first]..<(run.groupStarts[last] + run.groups[last])
                    if (13...19).contains(count), cardGrouping(groups) || cardGrouping(joinedGroups[...]) {
                        let window = Array(run.digits[digits])
                        if Checksums.cardBrand(window) != nil, Checksums.luhn(window) {
                            cardEnd = last
                            cardRange = range
                        }
                    }
                    // Nine- and ten-digit identifiers: as grouped, or wholly joined across line breaks
                    // (which then needs their label); a line break is never an unlabelled SSN's separator,
                    // or an amount over a date ("156.21" / "2021-08-23") would read as 3-2-4.
                    if count == 9 || count == 10 {
                        let window = Array(run.digits[digits])
                        let broken = joinedGroups.count < groups.count
                        judgeShortIdentifier(
                            window, groups: Array(groups), range: range, context: context, labelRequired: broken,
                            hit: hit)
                        if broken, joinedGroups.count == 1 {
                            judgeShortIdentifier(
                                window, groups: joinedGroups, range: range, context: context, labelRequired: true,
                                hit: hit)
                        }
                    }
                    last += 1
                }
                if cardEnd >= 0 {
                    // The longest card from this group; the next candidate starts after it.
                    hit(.creditCard, cardRange, 0.95)
                    for g in first...cardEnd { digitOffset += run.groups[g] }
                    first = cardEnd + 1
                } else {
                    digitOffset += run.groups[first]
                    first += 1
                }
            }
            let whole = run.start..<run.end
            if !claimed, run.digits.count <= maxPhoneDigits, cleanBoundaries(bytes, run),
                !run.separators.contains(0x2F), !run.separators.contains(0x0A),
                !labelledAsIdentifier(run.start, context),
                let confidence = phoneConfidence(
                    PhoneCandidate(run, groups: 0..<run.groups.count, digits: 0..<run.digits.count), context: context)
            {
                hit(.phone, whole, confidence)
            } else if run.groups.count > 1 {
                phonesInside(bytes, run, taken: taken, context: context, hit: hit)
            }
        }
    }

    /// A span of whole groups of a run judged as a phone number: its digits and groups as written, and
    /// whether the run's `+` or parenthesised area code begins it.
    private struct PhoneCandidate {
        var digits: ArraySlice<Int>
        var groups: ArraySlice<Int>
        var plus: Bool
        var paren: Bool
        var start: Int

        /// Groups `span` of `run`, whose digits are `digitSpan` of the run's.
        init(_ run: NumberRun, groups span: Range<Int>, digits digitSpan: Range<Int>) {
            digits = run.digits[digitSpan]
            groups = run.groups[span]
            plus = run.plus && span.lowerBound == 0
            paren = run.paren && span.lowerBound == 0
            start = span.lowerBound == 0 ? run.start : run.groupStarts[span.lowerBound]
        }

        var contiguous: Bool { groups.count == 1 && !plus && !paren }
    }

    /// Phone numbers inside a longer run that is not one as a whole: "07700 900123 4pm", "555 234 5678
    /// 12/03/2024", two numbers side by side. A span of whole groups is a candidate when a space (or the
    /// run's own clean edge) sets it apart from the rest, no `/` or line break is inside it, it overlaps no
    /// identifier found in the run, and it has a phone's shape. Of the ways to read the run as candidates
    /// and leftover groups, the one covering the most digits wins ("+44 20 7946 0018 020 7946 0019" is two
    /// numbers, not "+44 20 7946 0018 020" and a leftover): a pass from the last group back, O(groups · 15).
    private static func phonesInside(
        _ bytes: UnsafeBufferPointer<UInt8>, _ run: NumberRun, taken: [Range<Int>], context: MessageContext,
        hit: (BuiltinDetector, Range<Int>, Double) -> Void
    ) {
        let count = run.groups.count
        // Most runs here are dates and amounts: skip unless some stretch without `/` or a line break holds
        // a phone's fewest digits.
        var stretch = 0
        var longest = 0
        for g in 0..<count {
            if g > 0, run.separators[g - 1] == 0x2F || run.separators[g - 1] == 0x0A { stretch = 0 }
            stretch += run.groups[g]
            longest = max(longest, stretch)
        }
        guard longest >= minDigits else { return }
        // covered[i]: most digits phones can cover from group i on; choice[i]: the phone starting at i then.
        var covered = [Int](repeating: 0, count: count + 1)
        var choice = [(last: Int, range: Range<Int>, confidence: Double)?](repeating: nil, count: count + 1)
        var digitsFromFirst = 0  // digits in groups first..<count
        for first in stride(from: count - 1, through: 0, by: -1) {
            covered[first] = covered[first + 1]
            digitsFromFirst += run.groups[first]
            let firstDigit = run.digits.count - digitsFromFirst
            let startsApart = first == 0 ? cleanStart(bytes, run.start) : run.separators[first - 1] == 0x20
            var digits = 0
            var last = first
            while startsApart, last < count {
                if last > first, run.separators[last - 1] == 0x2F || run.separators[last - 1] == 0x0A { break }
                digits += run.groups[last]
                if digits > 15 { break }  // E.164's longest
                let endsApart = last == count - 1 ? cleanEnd(bytes, run.end) : run.separators[last] == 0x20
                if digits >= minDigits, endsApart, first > 0 || last < count - 1,
                    digits + covered[last + 1] > covered[first]
                {
                    let candidate = PhoneCandidate(
                        run, groups: first..<(last + 1), digits: firstDigit..<(firstDigit + digits))
                    let range = candidate.start..<(run.groupStarts[last] + run.groups[last])
                    if !taken.contains(where: { $0.overlaps(range) }), !labelledAsIdentifier(candidate.start, context),
                        let confidence = phoneConfidence(candidate, context: context)
                    {
                        covered[first] = digits + covered[last + 1]
                        choice[first] = (last, range, confidence)
                    }
                }
                last += 1
            }
        }
        var first = 0
        while first < count {
            guard let phone = choice[first], covered[first] > covered[first + 1] else {
                first += 1
                continue
            }
            hit(.phone, phone.range, phone.confidence)
            first = phone.last + 1
        }
    }

    // Groupings compared against per candidate, kept as constants so no comparison builds an array.
    private static let ssnGroups = [3, 2, 4]
    private static let threeThreeFour = [3, 3, 4]
    private static let nanpWithOne = [1, 3, 3, 4]
    private static let identifierLabels: [ContextClass] = [.identifier, .nhs, .ssn, .npi, .aba]

    /// The nine- and ten-digit identifiers: SSN (3-2-4, or nine digits after its label), and after
    /// their labels NHS (3-3-4 or ten digits), NPI and ABA routing numbers (one block).
    private static func judgeShortIdentifier(
        _ d: [Int], groups: [Int], range: Range<Int>, context: MessageContext, labelRequired: Bool,
        hit: (BuiltinDetector, Range<Int>, Double) -> Void
    ) {
        let single = groups.count == 1
        if d.count == 9, Checksums.ssn(d) {
            if groups == ssnGroups, !labelRequired || context.near(.ssn, range, window: 24) {
                hit(.usSSN, range, 0.9)
            } else if single, context.near(.ssn, range, window: 24) {
                hit(.usSSN, range, 0.85)
            }
        }
        if d.count == 10, single || groups == threeThreeFour, context.near(.nhs, range, window: 24),
            Checksums.nhs(d)
        {
            hit(.ukNHS, range, 0.95)
        }
        if single, d.count == 10, context.near(.npi, range, window: 24), Checksums.npi(d) {
            hit(.usNPI, range, 0.95)
        }
        if single, d.count == 9, context.near(.aba, range, window: 32), Checksums.abaRouting(d) {
            hit(.abaRouting, range, 0.9)
        }
    }

    /// An identifier label right before the number ("NHS no. ", "Order #", "ref: ") means it is not a phone number.
    private static func labelledAsIdentifier(_ start: Int, _ context: MessageContext) -> Bool {
        identifierLabels.contains { context.has($0, before: start, window: 4) }
    }

    /// UK national numbers are written 3-4-4 (020 7946 0958), 4-3-4 (0161 496 0000), 5-6 or 5-3-3 (mobiles).
    private static let ukGroupings: [[Int]] = [[3, 4, 4], [4, 3, 4], [5, 6], [5, 3, 3]]

    private static func phoneConfidence(_ c: PhoneCandidate, context: MessageContext) -> Double? {
        let d = c.digits
        let g = c.groups
        let d0 = d.startIndex
        if c.plus {
            return (8...15).contains(d.count) && d[d0] != 0 ? 0.85 : nil
        }
        // North American numbering plan: NPA-NXX-XXXX, optionally with a leading 1.
        if g.elementsEqual(threeThreeFour) || (g.elementsEqual(nanpWithOne) && d[d0] == 1) {
            let area = d0 + (g.count == 4 ? 1 : 0)
            if d[area] >= 2, d[area + 3] >= 2 { return 0.75 }
        }
        // UK national format: 11 digits starting 0, in one of the usual groupings.
        if d.count == 11, d[d0] == 0, d[d0 + 1] != 0, ukGroupings.contains(where: { g.elementsEqual($0) }), !c.paren {
            return 0.7
        }
        if c.contiguous, d.count == 10 || d.count == 11, context.has(.phone, before: c.start, window: 16) {
            return 0.6
        }
        return nil
    }
}
