// Reads gold sets from JSON Lines files (or YAML: GoldSuiteYAML.swift, same items), strictly: one item per
// line, unknown keys, missing keys, wrong
// types, a scorer's expectation of the wrong shape, a bad regular expression and duplicate ids are all
// errors naming file:line, so a typo never silently turns into a wrong score. Blank lines and lines
// starting with `#` are skipped (comments for the analyst).
//
// One item, on one line (wrapped here):
//   {"id": "bank-007", "category": "arithmetic", "tags": ["pci"], "weight": 2,
//    "input": "A fee of 1.5% on 2,400.00 EUR is how much?", "scorer": "number", "expected": 36, "tolerance": 0.01}
// `conversation: [{"role": "user", "content": ...}, ...]` replaces `input` for a short dialogue (it ends
// with the user's turn).
internal import Foundation

/// A gold file that cannot be used; `description` is `file:line: message`.
public struct GoldSuiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable code for scripts: always `gold-invalid`.
    public let code = "gold-invalid"
    public var file: String
    public var line: Int
    public var message: String

    public var description: String { "\(file):\(line): \(message)" }
}

/// A JSON value as read, before it is checked against the item schema.
enum JSONNode: Decodable, Equatable {
    case object([String: JSONNode])
    case array([JSONNode])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONNode].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONNode].self))
        }
    }
}

/// Loads gold suites.
public enum GoldSuiteLoader {
    static let keys: Set<String> = [
        "id", "category", "weight", "tags", "input", "conversation", "scorer", "expected", "tolerance", "rubric",
    ]

    /// The extensions of gold files: JSON Lines, or YAML (a list of the same items).
    static let extensions = [".jsonl", ".yaml", ".yml"]

    /// Loads `path`: a `.jsonl` or `.yaml`/`.yml` file, or a directory whose gold files (sorted by name) form
    /// one suite.
    public static func load(path: String) throws(GoldSuiteError) -> GoldSuite {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw GoldSuiteError(file: path, line: 0, message: "no such file or directory")
        }
        var files = [path]
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            files = names.filter { name in extensions.contains { name.hasSuffix($0) } }.sorted().map { path + "/" + $0 }
            guard !files.isEmpty else {
                throw GoldSuiteError(file: path, line: 0, message: "no .jsonl, .yaml or .yml gold files")
            }
        }
        var items: [GoldItem] = []
        var seen: [String: String] = [:]
        for file in files {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
            else { throw GoldSuiteError(file: file, line: 0, message: "cannot read the file as UTF-8") }
            let yaml = file.hasSuffix(".yaml") || file.hasSuffix(".yml")
            for item in try yaml ? parseYAML(text, file: file) : parse(text, file: file) {
                if let first = seen[item.id] {
                    throw GoldSuiteError(
                        file: file, line: line(of: item), message: "duplicate id '\(item.id)' (first at \(first))")
                }
                seen[item.id] = item.location
                items.append(item)
            }
        }
        guard !items.isEmpty else { throw GoldSuiteError(file: path, line: 0, message: "the suite has no items") }
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        let base = trimmed.split(separator: "/").last.map(String.init) ?? trimmed
        let suffix = extensions.first { base.hasSuffix($0) }
        let name = suffix.map { String(base.dropLast($0.count)) } ?? base
        return GoldSuite(name: name, items: items)
    }

    private static func line(of item: GoldItem) -> Int {
        Int(item.location.split(separator: ":").last ?? "0") ?? 0
    }

    /// Parses the items of one file's text.
    public static func parse(_ text: String, file: String) throws(GoldSuiteError) -> [GoldItem] {
        var items: [GoldItem] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fail = { (message: String) in GoldSuiteError(file: file, line: index + 1, message: message) }
            guard let node = try? JSONDecoder().decode(JSONNode.self, from: Data(line.utf8)),
                case .object(let map) = node
            else { throw fail("not a JSON object on one line") }
            do {
                items.append(try item(map, location: "\(file):\(index + 1)"))
            } catch let message as ItemProblem {
                throw fail(message.text)
            } catch {
                throw fail("\(error)")
            }
        }
        return items
    }

    struct ItemProblem: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    static func item(_ map: [String: JSONNode], location: String) throws -> GoldItem {
        if let unknown = map.keys.filter({ !keys.contains($0) }).sorted().first {
            throw ItemProblem("unknown key '\(unknown)' (allowed: \(keys.sorted().joined(separator: ", ")))")
        }
        let id = try string(map["id"], "id")
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ItemProblem("id must be letters, digits, '-', '_' or '.'")
        }
        let category = try string(map["category"], "category")
        var weight = 1.0
        if let node = map["weight"] {
            guard case .number(let value) = node, value > 0, value.isFinite else {
                throw ItemProblem("weight must be a positive number")
            }
            weight = value
        }
        let tags = try map["tags"].map { try strings($0, "tags") } ?? []
        var history: [GoldTurn] = []
        let message: String
        switch (map["input"], map["conversation"]) {
        case (let input?, nil):
            message = try string(input, "input")
        case (nil, let conversation?):
            guard case .array(let turns) = conversation, !turns.isEmpty else {
                throw ItemProblem("conversation must be a non-empty list of {role, content}")
            }
            history = try turns.map(turn)
            guard let last = history.popLast(), last.role == "user" else {
                throw ItemProblem("a conversation must end with a user turn")
            }
            message = last.content
        default:
            throw ItemProblem("give exactly one of 'input' or 'conversation'")
        }
        let itemScorer = try Self.scorer(map)
        return GoldItem(
            id: id, category: category, weight: weight, tags: tags, history: history, message: message,
            scorer: itemScorer,
            location: location)
    }

    private static func turn(_ node: JSONNode) throws -> GoldTurn {
        guard case .object(let map) = node, Set(map.keys) == ["role", "content"] else {
            throw ItemProblem("each conversation turn is {\"role\": ..., \"content\": ...}")
        }
        let role = try string(map["role"], "role")
        guard role == "user" || role == "assistant" else { throw ItemProblem("a turn's role is user or assistant") }
        return GoldTurn(role: role, content: try string(map["content"], "content"))
    }

    private static func scorer(_ map: [String: JSONNode]) throws -> Scorer {
        let name = try string(map["scorer"], "scorer")
        let expected = map["expected"]
        if map["tolerance"] != nil, name != "number" { throw ItemProblem("'tolerance' is only for the number scorer") }
        if map["rubric"] != nil, name != "rubric" { throw ItemProblem("'rubric' is only for the rubric scorer") }
        switch name {
        case "exact": return .exact(try string(expected, "expected"))
        case "normalized": return .normalized(try string(expected, "expected"))
        case "contains_all": return .containsAll(try strings(expected, "expected", nonEmpty: true))
        case "contains_any": return .containsAny(try strings(expected, "expected", nonEmpty: true))
        case "regex":
            let pattern = try string(expected, "expected")
            guard (try? NSRegularExpression(pattern: pattern)) != nil else {
                throw ItemProblem("expected is not a valid regular expression")
            }
            return .regex(pattern)
        case "number":
            guard case .number(let value)? = expected else { throw ItemProblem("expected must be a number") }
            var tolerance = 0.0
            if let node = map["tolerance"] {
                guard case .number(let given) = node, given >= 0 else {
                    throw ItemProblem("tolerance must be a number ≥ 0")
                }
                tolerance = given
            }
            return .number(value: value, tolerance: tolerance)
        case "choice":
            let letter = try string(expected, "expected").uppercased()
            guard letter.count == 1, "ABCDEFGH".contains(letter) else {
                throw ItemProblem("expected must be one letter A-H")
            }
            return .choice(letter)
        case "json_fields":
            guard case .object(let fields)? = expected, !fields.isEmpty else {
                throw ItemProblem("expected must be an object of field paths and values")
            }
            var values: [String: JSONValue] = [:]
            for (path, node) in fields {
                guard let value = JSONValue(node) else {
                    throw ItemProblem("expected field '\(path)' must be a string, number, boolean or null")
                }
                values[path] = value
            }
            return .jsonFields(values)
        case "rubric":
            return .rubric(rubric: try string(map["rubric"], "rubric"), reference: try string(expected, "expected"))
        default:
            throw ItemProblem(
                "unknown scorer '\(name)' (exact, normalized, contains_all, contains_any, regex, number, choice, "
                    + "json_fields, rubric)")
        }
    }

    private static func string(_ node: JSONNode?, _ key: String) throws -> String {
        guard let node else { throw ItemProblem("missing '\(key)'") }
        guard case .string(let value) = node, !value.isEmpty else {
            throw ItemProblem("'\(key)' must be a non-empty string")
        }
        return value
    }

    private static func strings(_ node: JSONNode?, _ key: String, nonEmpty: Bool = false) throws -> [String] {
        guard case .array(let values)? = node, !(nonEmpty && values.isEmpty) else {
            throw ItemProblem("'\(key)' must be a list of strings")
        }
        return try values.map { try string($0, key) }
    }
}
