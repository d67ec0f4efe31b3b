// A gold set: the questions an organisation asks its models, each with the answer it expects and the rule
// that scores a reply. Analysts write them as JSON Lines files under `eval/` (GoldSuiteLoader.swift); the
// runner sends each item through the same detectors, policy, router and audit log as live traffic.

/// One turn of an item's input conversation.
public struct GoldTurn: Sendable, Equatable, Codable {
    /// `user` or `assistant`.
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// How a reply is scored. Pass/fail scorers give 0 or 1; `jsonFields` and `rubric` are graded (0...1).
public enum Scorer: Sendable, Equatable {
    /// The reply, trimmed, equals the expected text exactly.
    case exact(String)
    /// Equal after case folding, collapsing white space and dropping surrounding punctuation.
    case normalized(String)
    /// The normalised reply contains every one of these (normalised) phrases.
    case containsAll([String])
    /// The normalised reply contains at least one of these (normalised) phrases.
    case containsAny([String])
    /// The regular expression matches somewhere in the reply.
    case regex(String)
    /// The last number in the reply is within `tolerance` of `value` (thousands separators allowed).
    case number(value: Double, tolerance: Double)
    /// The first standalone choice letter (A-H) of the reply is this one.
    case choice(String)
    /// The first JSON object in the reply has these fields (dotted paths) with these values; the score is
    /// the fraction that match.
    case jsonFields([String: JSONValue])
    /// A judge provider rates the reply against the rubric and the reference answer, 1-5, mapped to 0...1.
    case rubric(rubric: String, reference: String)

    /// The scorer's name as written in a gold file.
    public var name: String {
        switch self {
        case .exact: "exact"
        case .normalized: "normalized"
        case .containsAll: "contains_all"
        case .containsAny: "contains_any"
        case .regex: "regex"
        case .number: "number"
        case .choice: "choice"
        case .jsonFields: "json_fields"
        case .rubric: "rubric"
        }
    }

    /// Whether scores are graded (a bootstrap interval) rather than pass/fail (a Wilson interval).
    public var isGraded: Bool {
        switch self {
        case .jsonFields, .rubric: true
        default: false
        }
    }
}

/// A JSON scalar an item expects in a field.
public enum JSONValue: Sendable, Equatable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    public init(from decoder: any Decoder) throws {
        guard let value = JSONValue(try JSONNode(from: decoder)) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a scalar"))
        }
        self = value
    }

    /// The scalar `node` holds; nil for a list or an object.
    init?(_ node: JSONNode) {
        switch node {
        case .string(let value): self = .string(value)
        case .number(let value): self = .number(value)
        case .bool(let value): self = .bool(value)
        case .null: self = .null
        case .array, .object: return nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }
}

/// One gold item.
public struct GoldItem: Sendable, Equatable {
    /// Unique within its suite; results are paired across providers and runs by it.
    public var id: String
    public var category: String
    /// Relative weight in the category's score (default 1).
    public var weight: Double
    /// Sensitivity tags put on the item's conversation (policy vocabulary, like `/tag`).
    public var tags: [String]
    /// Earlier turns, oldest first (may be empty), then the message sent.
    public var history: [GoldTurn]
    public var message: String
    public var scorer: Scorer
    /// Where the item was read (`file:line`), for messages.
    public var location: String

    public init(
        id: String, category: String, weight: Double = 1, tags: [String] = [], history: [GoldTurn] = [],
        message: String, scorer: Scorer, location: String = "-"
    ) {
        self.id = id
        self.category = category
        self.weight = weight
        self.tags = tags
        self.history = history
        self.message = message
        self.scorer = scorer
        self.location = location
    }
}

/// A loaded gold set.
public struct GoldSuite: Sendable, Equatable {
    /// The suite's name (its directory or file name).
    public var name: String
    public var items: [GoldItem]

    public init(name: String, items: [GoldItem]) {
        self.name = name
        self.items = items
    }

    /// The categories in first-seen order.
    public var categories: [String] {
        var seen: Set<String> = []
        return items.compactMap { seen.insert($0.category).inserted ? $0.category : nil }
    }
}
