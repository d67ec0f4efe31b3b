// Strict reading of a composed YAML tree (Yams' Node API, which keeps every node's line and column).
// Codable would lose positions and silently accept unknown keys; this reader rejects unknown and
// duplicate keys and wrong types, and records every problem with file:line:column and a hint, so one
// `policy check` run reports all mistakes at once instead of the first.
import Yams

/// The fields of one YAML mapping after strict checking, looked up by key.
struct Fields {
    /// Where the mapping starts.
    var mark: Mark?
    var values: [String: Node]
    var keyMarks: [String: Mark]

    subscript(_ key: String) -> Node? { values[key] }
}

/// Reads nodes of one file, accumulating issues instead of stopping at the first.
struct NodeReader {
    let file: String
    var issues: [PolicyIssue] = []

    init(file: String) {
        self.file = file
    }

    mutating func report(_ mark: Mark?, _ code: PolicyIssue.Code, _ message: String, hint: String) {
        issues.append(
            PolicyIssue(
                file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, code: code,
                message: message, hint: hint))
    }

    /// Checks that `node` is a mapping whose keys are all in `allowed` and none repeated.
    mutating func mapping(_ node: Node, allowed: [String], what: String) -> Fields? {
        guard case .mapping(let map) = node else {
            report(node.mark, .wrongType, "\(what) must be a mapping", hint: "write `key: value` lines under it")
            return nil
        }
        var fields = Fields(mark: map.mark, values: [:], keyMarks: [:])
        for (keyNode, value) in map {
            guard case .scalar(let scalar) = keyNode else {
                report(keyNode.mark, .wrongType, "keys in \(what) must be plain names", hint: "use a plain word as key")
                continue
            }
            let key = scalar.string
            if !allowed.contains(key) {
                report(
                    keyNode.mark, .unknownKey, "unknown key '\(key)' in \(what)",
                    hint: Self.suggestion(for: key, among: allowed))
                continue
            }
            if let first = fields.keyMarks[key] {
                report(
                    keyNode.mark, .duplicateKey, "key '\(key)' appears twice in \(what)",
                    hint: "remove one; the first is at line \(first.line)")
                continue
            }
            fields.values[key] = value
            fields.keyMarks[key] = keyNode.mark
        }
        return fields
    }

    /// A mapping from admin-chosen names (tags, detectors, groups) to values, in file order.
    mutating func namedEntries(_ node: Node, what: String) -> [(name: String, mark: Mark?, value: Node)] {
        guard case .mapping(let map) = node else {
            report(node.mark, .wrongType, "\(what) must be a mapping of names", hint: "write `name:` lines under it")
            return []
        }
        var seen: [String: Int] = [:]
        var result: [(name: String, mark: Mark?, value: Node)] = []
        for (keyNode, value) in map {
            guard let name = identifier(keyNode, what: "a name in \(what)") else { continue }
            if let first = seen[name] {
                report(
                    keyNode.mark, .duplicateName, "'\(name)' is defined twice in \(what)",
                    hint: "remove one; the first is at line \(first)")
                continue
            }
            seen[name] = keyNode.mark?.line ?? 0
            result.append((name, keyNode.mark, value))
        }
        return result
    }

    mutating func string(_ node: Node, what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(node.mark, .wrongType, "\(what) must be a single value", hint: "write it on the same line")
            return nil
        }
        return scalar.string
    }

    /// A name: lower-case letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    mutating func identifier(_ node: Node, what: String) -> String? {
        guard let text = string(node, what: what) else { return nil }
        guard Self.isIdentifier(text) else {
            report(
                node.mark, .badValue, "'\(text.prefix(40))' is not a valid \(what)",
                hint: "use lower-case letters, digits, '-', '_' or '.', at most 64 characters")
            return nil
        }
        return text
    }

    mutating func int(_ node: Node, what: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, what: what) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            report(
                node.mark, .badValue, "\(what) must be a whole number in \(range.lowerBound)...\(range.upperBound)",
                hint: "for example `\(range.lowerBound)`")
            return nil
        }
        return value
    }

    mutating func double(_ node: Node, what: String, range: ClosedRange<Double>) -> Double? {
        guard let text = string(node, what: what) else { return nil }
        guard let value = Double(text), range.contains(value) else {
            report(
                node.mark, .badValue, "\(what) must be a number in \(range.lowerBound)...\(range.upperBound)",
                hint: "for example `0.5`")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, what: String) -> Bool? {
        guard let text = string(node, what: what) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default:
            report(node.mark, .badValue, "\(what) must be true or false", hint: "write `true` or `false`")
            return nil
        }
    }

    /// A list of values; a single value is not accepted, so that the shape in the file stays uniform.
    mutating func list(_ node: Node, what: String) -> [Node] {
        guard case .sequence(let sequence) = node else {
            report(node.mark, .wrongType, "\(what) must be a list", hint: "write `[a, b]` or one `- item` per line")
            return []
        }
        return Array(sequence)
    }

    mutating func identifierList(_ node: Node, what: String) -> [(name: String, mark: Mark?)] {
        list(node, what: what).compactMap { item in
            identifier(item, what: "entry of \(what)").map { ($0, item.mark) }
        }
    }

    mutating func stringList(_ node: Node, what: String) -> [(text: String, mark: Mark?)] {
        list(node, what: what).compactMap { item in
            string(item, what: "entry of \(what)").map { ($0, item.mark) }
        }
    }

    static func isIdentifier(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 64, isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// "did you mean ...?" for the allowed name closest to a misspelt one.
    static func suggestion(for word: String, among names: [String]) -> String {
        let best = names.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        if let best, best.1 <= max(2, word.count / 3) {
            return "did you mean '\(best.0)'?"
        }
        return "allowed here: " + names.joined(separator: ", ")
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8.prefix(64))
        let y = Array(b.utf8.prefix(64))
        var previous = Array(0...y.count)
        for i in 1...max(x.count, 1) where !x.isEmpty {
            var current = [i] + Array(repeating: 0, count: y.count)
            for j in 1...max(y.count, 1) where !y.isEmpty {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            previous = current
        }
        return x.isEmpty ? y.count : previous[y.count]
    }
}
