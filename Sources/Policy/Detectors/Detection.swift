// What detection reports: spans, detectors and confidences, and the tags they set. A Detection never
// holds the matched text itself, so it can be logged, audited and shown in `policy explain`.

/// The detectors built into Enclave; admins enable them by naming them in a tag's `detectors:`.
public enum BuiltinDetector: String, Sendable, CaseIterable, Hashable {
    case creditCard = "credit-card"
    case usSSN = "us-ssn"
    case iban = "iban"
    case ukNHS = "uk-nhs"
    case usNPI = "us-npi"
    case abaRouting = "aba-routing"
    case email = "email"
    case phone = "phone"
    case dateOfBirth = "dob"
    case icd10 = "icd10"

    /// Whether a checksum or structural rule decides this detector (used by the quality tests).
    public var isChecksummed: Bool {
        switch self {
        case .creditCard, .usSSN, .iban, .ukNHS, .usNPI, .abaRouting: true
        default: false
        }
    }

    /// One line for `policy explain` and the shipped policy's comments.
    public var summary: String {
        switch self {
        case .creditCard: "payment card numbers, 13-19 digits, Luhn and issuer ranges"
        case .usSSN: "US social security numbers (area/group/serial rules)"
        case .iban: "international bank account numbers (country length and mod-97)"
        case .ukNHS: "UK NHS numbers after an 'NHS' label (mod-11)"
        case .usNPI: "US national provider identifiers after an 'NPI' label (Luhn with 80840)"
        case .abaRouting: "US ABA routing numbers after a 'routing'/'ABA' label (3-7-1 checksum)"
        case .email: "e-mail addresses"
        case .phone: "phone numbers, E.164 and common US/UK national forms"
        case .dateOfBirth: "dates after 'DOB', 'date of birth', 'born on'"
        case .icd10: "ICD-10 codes after 'ICD', 'diagnosis', 'dx'"
        }
    }
}

/// One finding: where, which detector, how sure.
public struct DetectorHit: Sendable, Hashable {
    /// The detector's name (a built-in name or the admin-defined detector's name).
    public var detector: String
    /// UTF-8 byte offsets into the message.
    public var range: Range<Int>
    /// 0...1; checksum-validated findings are 0.9 or more.
    public var confidence: Double

    public init(detector: String, range: Range<Int>, confidence: Double) {
        self.detector = detector
        self.range = range
        self.confidence = confidence
    }
}

/// The result of running a policy's detectors over one message.
public struct Detection: Sendable, Hashable {
    /// Findings in order of position.
    public var hits: [DetectorHit]
    /// Tags set by the findings (through the policy's tag definitions).
    public var tags: Set<String>
    /// Number of findings per detector name, for audit records.
    public var countsByDetector: [String: Int]

    public init(hits: [DetectorHit] = [], tags: Set<String> = [], countsByDetector: [String: Int] = [:]) {
        self.hits = hits
        self.tags = tags
        self.countsByDetector = countsByDetector
    }
}
