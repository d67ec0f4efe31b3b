// The run file: everything a report needs from one `enclave eval run`, as JSON. It holds the outcome,
// score, latency, tokens and cost of every (item, provider, repetition), and the providers' residency
// and prices; never the text of an item or of a reply (the gold set may itself hold sensitive examples).
// Reports (crossover, compare, HTML) are recomputed from it, so they can be redone offline.
public import Foundation

/// How one attempt at one item ended.
public enum ItemOutcome: String, Sendable, Codable, Equatable {
    /// Answered by the provider asked and scored.
    case scored
    /// The provider (or its call) failed; scores 0.
    case failed
    /// The policy denies this item's conversation to this provider: never sent.
    case skippedByPolicy = "skipped-policy"
}

/// One (item, provider, repetition).
public struct ItemResult: Sendable, Codable, Equatable {
    public var item: String
    public var category: String
    public var weight: Double
    public var graded: Bool
    public var provider: String
    public var repetition: Int
    public var outcome: ItemOutcome
    /// 0...1; 0 for a failure; nil when skipped by policy.
    public var score: Double?
    /// The stable failure code (`provider-unavailable`, `fallback`, `judge-failed`, ...).
    public var errorCode: String?
    /// Milliseconds from sending to the first text piece, as the caller saw it.
    public var ttftMs: Double?
    /// Milliseconds from sending to the end of the reply, as the caller saw it.
    public var totalMs: Double?
    /// The provider's own time for the call (from its call record).
    public var providerMs: Double?
    public var tokensIn: Int?
    public var tokensOut: Int?
    /// From the provider's price table, in millionths of the currency.
    public var costMicros: Int?
    public var modelID: String?
    public var promptVersion: String?

    public init(
        item: String, category: String, weight: Double, graded: Bool, provider: String, repetition: Int,
        outcome: ItemOutcome, score: Double? = nil, errorCode: String? = nil
    ) {
        self.item = item
        self.category = category
        self.weight = weight
        self.graded = graded
        self.provider = provider
        self.repetition = repetition
        self.outcome = outcome
        self.score = score
        self.errorCode = errorCode
    }
}

/// A provider as the run saw it.
public struct ProviderMeta: Sendable, Codable, Equatable {
    public var name: String
    /// `on-prem`, `vpc` or `external`.
    public var residency: String
    public var model: String
    public var inputPerMillion: Double
    public var outputPerMillion: Double

    public init(name: String, residency: String, model: String, inputPerMillion: Double, outputPerMillion: Double) {
        self.name = name
        self.residency = residency
        self.model = model
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    /// 0 for on-prem, 1 for vpc, 2 for external (the order of sovereignty), 3 for anything else.
    public var residencyRank: Int { ["on-prem", "vpc", "external"].firstIndex(of: residency) ?? 3 }
}

/// One `enclave eval run`.
public struct EvalRun: Sendable, Codable, Equatable {
    public var format = 1
    public var id: String
    public var suite: String
    public var started: Date
    public var finished: Date
    public var repetitions: Int
    public var judge: String?
    public var providers: [ProviderMeta]
    /// Categories in the suite's order.
    public var categories: [String]
    public var results: [ItemResult]

    public init(
        id: String, suite: String, started: Date, finished: Date, repetitions: Int, judge: String?,
        providers: [ProviderMeta], categories: [String], results: [ItemResult]
    ) {
        self.id = id
        self.suite = suite
        self.started = started
        self.finished = finished
        self.repetitions = repetitions
        self.judge = judge
        self.providers = providers
        self.categories = categories
        self.results = results
    }

    /// The run as pretty, key-sorted JSON.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    /// Reads a run file; a file that is not one gives a clear message.
    public static func read(path: String) throws -> EvalRun {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GoldSuiteError(file: path, line: 0, message: "cannot read the run file")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(EvalRun.self, from: data)
        } catch {
            throw GoldSuiteError(file: path, line: 0, message: "not an eval run file (\(type(of: error)))")
        }
    }
}
