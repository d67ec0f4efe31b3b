// Strict reading of the server configuration's YAML: every key is known, none is repeated, every
// value has the expected type, and every error names file:line:column with a hint, like the policy
// loader. Works on Yams' node tree, which keeps each node's position.
public import Yams

/// A configuration error in a file (the server configuration, a system prompt), at a position when there is
/// one (line 0: the file as a whole).
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String
    public var hint: String?

    public init(file: String, line: Int = 0, column: Int = 0, message: String, hint: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint
    }

    public var description: String {
        let position = line > 0 ? "\(file):\(line):\(column)" : file
        return "\(position): error: \(message)" + (hint.map { " (hint: \($0))" } ?? "")
    }
}

/// A mapping whose keys were checked: value nodes by key, plus the mapping's own position.
public struct CheckedMapping {
    public var values: [String: Node]
    public var keyNodes: [String: Node]
    public var node: Node

    public subscript(key: String) -> Node? { values[key] }
}

/// Reads typed values out of YAML nodes, throwing positioned errors. Shared by every section of the
/// server's configuration file (the executable reads its own sections with it).
public struct ConfigurationReader {
    public let file: String

    public init(file: String) { self.file = file }

    public func error(_ node: Node?, _ message: String, hint: String? = nil) -> ConfigurationError {
        let mark = node?.mark
        return ConfigurationError(
            file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message, hint: hint)
    }

    /// Parses the document; a YAML syntax error keeps libyaml's position.
    public func document(_ text: String) throws(ConfigurationError) -> Node {
        do {
            guard let root = try Yams.compose(yaml: text) else {
                throw ConfigurationError(file: file, line: 1, column: 1, message: "the file is empty")
            }
            return root
        } catch let error as ConfigurationError {
            throw error
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                .composer(_, let problem, let mark, _):
                throw ConfigurationError(file: file, line: mark.line, column: mark.column, message: "YAML: \(problem)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                throw ConfigurationError(
                    file: file, line: context.mark.line, column: context.mark.column,
                    message: "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))",
                    hint: "the position is the first occurrence")
            default:
                throw ConfigurationError(file: file, line: 1, column: 1, message: "YAML: \(error)")
            }
        } catch {
            throw ConfigurationError(file: file, line: 1, column: 1, message: "YAML: \(error)")
        }
    }

    /// A mapping with only `allowed` keys (required ones must be present), no duplicates.
    public func mapping(
        _ node: Node, _ what: String, allowed: Set<String>, required: Set<String> = []
    ) throws(ConfigurationError) -> CheckedMapping {
        guard case .mapping(let mapping) = node else { throw error(node, "\(what) must be a mapping") }
        var result = CheckedMapping(values: [:], keyNodes: [:], node: node)
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw error(keyNode, "keys of \(what) must be plain words")
            }
            let key = scalar.string
            guard allowed.contains(key) else {
                throw error(
                    keyNode, "unknown key '\(key)' in \(what)",
                    hint: "known keys: \(allowed.sorted().joined(separator: ", "))")
            }
            guard result.values[key] == nil else { throw error(keyNode, "duplicate key '\(key)' in \(what)") }
            result.values[key] = value
            result.keyNodes[key] = keyNode
        }
        for key in required.sorted() where result.values[key] == nil {
            throw error(node, "\(what) needs the key '\(key)'")
        }
        return result
    }

    public func sequence(_ node: Node, _ what: String) throws(ConfigurationError) -> [Node] {
        guard case .sequence(let sequence) = node else { throw error(node, "\(what) must be a list") }
        return Array(sequence)
    }

    public func string(_ node: Node, _ what: String) throws(ConfigurationError) -> String {
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            throw error(node, "\(what) must be a non-empty text")
        }
        return scalar.string
    }

    public func strings(_ node: Node, _ what: String) throws(ConfigurationError) -> [String] {
        var result: [String] = []
        for item in try sequence(node, what) { result.append(try string(item, "an item of \(what)")) }
        return result
    }

    public func int(_ node: Node, _ what: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard case .scalar = node, let value = node.int, range.contains(value) else {
            throw error(node, "\(what) must be a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func double(_ node: Node, _ what: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard case .scalar = node, let value = node.float, value.isFinite, range.contains(value) else {
            throw error(node, "\(what) must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func bool(_ node: Node, _ what: String) throws(ConfigurationError) -> Bool {
        guard case .scalar = node, let value = node.bool else { throw error(node, "\(what) must be true or false") }
        return value
    }
}
