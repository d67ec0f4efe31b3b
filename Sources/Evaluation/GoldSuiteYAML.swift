// Gold sets in YAML: the file is a list of items with exactly the JSONL schema (GoldSuiteLoader), which is
// easier for an analyst to write by hand (multi-line inputs, comments, no escaping). Each item is turned
// into the same JSON value the JSONL reader sees and checked by the same code, so the two forms cannot
// drift; errors name the file and the line of the offending item (or of the YAML syntax error).
//
//   - id: hosp-001
//     category: extraction
//     tags: [phi]
//     input: |
//       Extract the patient's age from: ...
//     scorer: number
//     expected: 67
//
// Plain scalars take YAML's types (67 is a number, true a boolean); a quoted scalar is always a string.
// Non-string keys are refused. Yams expands an alias into a copy of its anchored node, so a repeated item
// is caught as a duplicate id when the suite loads.
import Foundation
import Yams

extension GoldSuiteLoader {
    /// Parses the items of one YAML file's text.
    public static func parseYAML(_ text: String, file: String) throws(GoldSuiteError) -> [GoldItem] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw yamlError(error, file: file)
        } catch {
            throw GoldSuiteError(file: file, line: 0, message: "not valid YAML")
        }
        guard let root else { return [] }
        guard case .sequence(let list) = root else {
            throw GoldSuiteError(
                file: file, line: line(root), message: "a YAML gold file is a list of items (- id: ...)")
        }
        var items: [GoldItem] = []
        for entry in list {
            let at = line(entry)
            do {
                guard case .object(let map) = try json(entry) else {
                    throw ItemProblem("an item is a mapping of keys (id, category, input, scorer, expected, ...)")
                }
                items.append(try item(map, location: "\(file):\(at)"))
            } catch let problem as ItemProblem {
                throw GoldSuiteError(file: file, line: at, message: problem.text)
            } catch {
                throw GoldSuiteError(file: file, line: at, message: "\(error)")
            }
        }
        return items
    }

    /// The 1-based line of `node` (Yams' marks are 1-based).
    static func line(_ node: Node) -> Int { node.mark?.line ?? 0 }

    /// A YAML node as the JSON value the item schema checks.
    static func json(_ node: Node) throws -> JSONNode {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool:
                guard let value = node.bool else { throw ItemProblem("unreadable boolean at line \(line(node))") }
                return .bool(value)
            case .int, .float:
                guard let value = node.float else { throw ItemProblem("unreadable number at line \(line(node))") }
                return .number(value)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(try sequence.map(json))
        case .mapping(let mapping):
            var map: [String: JSONNode] = [:]
            for (key, value) in mapping {
                guard case .scalar(let name) = key else {
                    throw ItemProblem("a key must be plain text (line \(line(key)))")
                }
                guard map.updateValue(try json(value), forKey: name.string) == nil else {
                    throw ItemProblem("duplicate key '\(name.string)' (line \(line(key)))")
                }
            }
            return .object(map)
        case .alias:
            throw ItemProblem("an unresolved alias (line \(line(node)))")
        }
    }

    /// A Yams syntax error as file:line with the parser's own words.
    static func yamlError(_ error: YamlError, file: String) -> GoldSuiteError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return GoldSuiteError(file: file, line: mark.line, message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return GoldSuiteError(
                file: file, line: context.mark.line,
                message: "duplicate key '\(duplicates.first ?? "")' in one mapping")
        default:
            return GoldSuiteError(file: file, line: 0, message: "not valid YAML")
        }
    }
}
