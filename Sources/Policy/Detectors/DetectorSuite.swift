// The detectors one policy set enables, compiled once at load and run over every message.
// Work per message is bounded twice: messages over `maxBytes` are refused, and the admin patterns
// share a budget of VM steps; either failure throws, and the caller fails closed.

/// An admin-defined detector: patterns or keywords, optionally only after context words.
struct AdminDetector: Sendable {
    enum Kind: Sendable {
        case patterns([Pattern])
        case keywords(KeywordMatcher)
    }

    var name: String
    var kind: Kind
    /// When set, a finding counts only if one of these words ends within `window` bytes before it.
    var context: KeywordMatcher?
    var window: Int
    var confidence: Double
}

/// Every detector of a policy set, ready to run.
struct DetectorSuite: Sendable {
    var builtins: Set<BuiltinDetector> = []
    /// Findings below their detector's minimum confidence are dropped.
    var minConfidence: [String: Double] = [:] {
        didSet { minConfidenceList = minConfidence.map { ($0.key, $0.value) } }
    }
    /// `minConfidence` as a short list, searched per hit without hashing.
    private var minConfidenceList: [(detector: String, minimum: Double)] = []
    var admin: [AdminDetector] = [] {
        didSet { keywordPass = KeywordPass(keywordMatchers) }
    }
    /// `keywordMatchers` with their tables, rebuilt whenever `admin` changes (at load, not per message).
    private(set) var keywordPass = KeywordPass([ContextClass.matcher])

    /// Largest message the detectors accept (1 MiB); the server's frame limit is far lower.
    static let maxBytes = 1 << 20
    /// Pattern VM steps per message: far above any real policy on a 1 MiB message, small enough
    /// to stop a pathological one within tens of milliseconds.
    static let stepBudget = 50_000_000

    /// The keyword matchers run in one pass: the context words first, then for each admin detector
    /// in order its keywords (if a keyword detector) and its context words (if any).
    var keywordMatchers: [KeywordMatcher] {
        var result = [ContextClass.matcher]
        for detector in admin {
            if case .keywords(let matcher) = detector.kind { result.append(matcher) }
            if let words = detector.context { result.append(words) }
        }
        return result
    }

    private static let numeric: Set<BuiltinDetector> = [.creditCard, .usSSN, .ukNHS, .usNPI, .abaRouting, .phone]

    func run(_ text: String) throws(PolicyError) -> [DetectorHit] {
        let original = Array(text.utf8)
        guard original.count <= Self.maxBytes else {
            throw .inputTooLarge(bytes: original.count, limit: Self.maxBytes)
        }
        // Every detector reads the normalised text; spans are mapped back to the original at the end.
        let normalized = NormalizedText(original)
        let bytes = normalized.bytes
        let lowered = normalized.lowered
        // Every keyword list (context words, admin keywords and their context words) in one pass.
        let keywordMatches = keywordPass.matches(in: lowered)
        let context = MessageContext(matches: keywordMatches[0])
        var hits: [DetectorHit] = []
        if !builtins.isDisjoint(with: Self.numeric) {
            NumberDetectors.detect(bytes, context: context, enabled: builtins, into: &hits)
        }
        // IBANs are looked for whenever number detectors run too, so that an account number's digit
        // groups (valid or mistyped) are not also read as a card or an SSN.
        if builtins.contains(.iban) || !builtins.isDisjoint(with: Self.numeric) {
            var ibanHits: [DetectorHit] = []
            var shapes: [Range<Int>] = []
            TextDetectors.ibans(lowered, into: &ibanHits, shapes: &shapes)
            if !shapes.isEmpty {
                let numeric = Set(Self.numeric.map(\.rawValue))
                hits.removeAll { hit in numeric.contains(hit.detector) && shapes.contains { $0.overlaps(hit.range) } }
            }
            if builtins.contains(.iban) { hits += ibanHits }
        }
        if builtins.contains(.email) { TextDetectors.emails(bytes, into: &hits) }
        if builtins.contains(.dateOfBirth) {
            DateDetector.datesOfBirth(lowered, context: context, into: &hits)
        }
        if builtins.contains(.icd10) { TextDetectors.icd10Codes(lowered, context: context, into: &hits) }
        var budget = Self.stepBudget
        var slot = 1
        func nextMatches() -> [Range<Int>] {
            defer { slot += 1 }
            return keywordMatches[slot].map(\.range)
        }
        for detector in admin {
            var ranges: [Range<Int>]
            switch detector.kind {
            case .patterns(let patterns):
                ranges = []
                for pattern in patterns { ranges += try pattern.matches(in: bytes, budget: &budget) }
            case .keywords:
                ranges = nextMatches()
            }
            if detector.context != nil {
                let index = ContextIndex(ends: nextMatches().map(\.upperBound))
                ranges = ranges.filter { index.precedes($0.lowerBound, window: detector.window) }
            }
            for range in ranges {
                hits.append(DetectorHit(detector: detector.name, range: range, confidence: detector.confidence))
            }
        }
        if !minConfidence.isEmpty {
            hits = hits.filter { hit in
                hit.confidence >= minConfidenceList.first { $0.detector == hit.detector }?.minimum ?? 0
            }
        }
        for k in hits.indices { hits[k].range = normalized.original(hits[k].range) }
        hits.sort { ($0.range.lowerBound, $0.detector) < ($1.range.lowerBound, $1.detector) }
        return hits
    }
}
