// The labels that give number-shaped text its meaning. Many identifiers (NHS, NPI, ABA, a bare
// nine-digit SSN) are indistinguishable from order numbers without the word in front of them, so
// those detectors only fire after their label; checksums then decide.

/// A class of context words.
enum ContextClass: Int, CaseIterable {
    case nhs, ssn, npi, aba, phone, identifier, dob, icd

    var words: [String] {
        switch self {
        case .nhs: ["nhs", "nhs no", "nhs number", "nhs #"]
        case .ssn: ["ssn", "social security", "social security number", "ss#", "ss no"]
        case .npi: ["npi", "national provider identifier"]
        case .aba: ["routing", "routing number", "aba", "rtn", "transit number"]
        case .phone: ["tel", "phone", "call", "mobile", "cell", "fax", "ph", "telephone"]
        case .identifier:
            [
                "nhs", "ssn", "npi", "mrn", "routing", "aba", "account", "acct", "card", "iban", "order", "invoice",
                "ref", "reference", "po", "ticket", "case", "policy", "batch", "lot", "serial", "sku",
            ]
        case .dob:
            [
                "dob", "d.o.b", "d.o.b.", "date of birth", "born on", "born", "birth date", "birthdate", "birth",
                "birthday", "geb.", "geboren", "né", "née", "fecha de nacimiento", "date de naissance",
            ]
        case .icd: ["icd", "icd-10", "icd10", "icd-10-cm", "diagnosis", "diagnoses", "diagnosed", "dx", "diag"]
        }
    }

    /// One matcher for every class; a word in two classes (e.g. `nhs`) is listed under each.
    static let matcher = KeywordMatcher(
        labelled: ContextClass.allCases.flatMap { cls in cls.words.map { ($0, 1 << cls.rawValue) } }
            .reduce(into: [String: Int]()) { $0[$1.0, default: 0] |= $1.1 }
            .sorted { $0.key < $1.key }
            .map { ($0.key, $0.value) })
}

/// Where each class of context word starts and ends in one message.
struct MessageContext {
    private var indexes: [ContextIndex]
    private var startIndexes: [ContextIndex]

    /// - Parameter matches: `ContextClass.matcher`'s matches in the message.
    init(matches: [(range: Range<Int>, label: Int)]) {
        var ends = Array(repeating: [Int](), count: ContextClass.allCases.count)
        var starts = ends
        for match in matches {
            var bits = match.label
            while bits != 0 {
                ends[bits.trailingZeroBitCount].append(match.range.upperBound)
                starts[bits.trailingZeroBitCount].append(match.range.lowerBound)
                bits &= bits - 1
            }
        }
        indexes = ends.map { ContextIndex(ends: $0) }
        startIndexes = starts.map { ContextIndex(ends: $0) }
    }

    func has(_ cls: ContextClass, before position: Int, window: Int) -> Bool {
        indexes[cls.rawValue].precedes(position, window: window)
    }

    /// A word of the class ends within `window` bytes before `range`, or starts within `window` after it.
    func near(_ cls: ContextClass, _ range: Range<Int>, window: Int) -> Bool {
        indexes[cls.rawValue].precedes(range.lowerBound, window: window)
            || startIndexes[cls.rawValue].follows(range.upperBound, window: window)
    }

    func ends(_ cls: ContextClass) -> [Int] { indexes[cls.rawValue].positions }

    func starts(_ cls: ContextClass) -> [Int] { startIndexes[cls.rawValue].positions }
}
