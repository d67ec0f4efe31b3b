// Reads the `retention:` section of a policy file (Retention.swift has the format) with the same strict
// reader as the rules: unknown keys, wrong types and out-of-range days are errors with file:line:column.
// The compiler then checks names across files and that every tag named is declared.
import Yams

extension ParsedPolicyFile {
    /// One retention rule as read, with the positions of the tags it names.
    struct Retention {
        var rule: RetentionRule
        var tagRefs: [(name: String, mark: Mark?)]
    }
}

extension PolicyFileParser {
    /// The longest period a rule may name: 100 years.
    static let maxRetentionDays = 36_500

    mutating func parseRetention(_ node: Node) {
        for item in reader.list(node, what: "retention") {
            guard
                let f = reader.mapping(
                    item, allowed: ["name", "description", "when", "days"], what: "a retention rule")
            else { continue }
            guard let nameNode = f["name"], let name = reader.identifier(nameNode, what: "retention rule name") else {
                if f["name"] == nil {
                    reader.report(
                        f.mark, .missingKey, "retention rule without a `name`", hint: "add `name: keep-pci-one-year`")
                }
                continue
            }
            let position = SourcePosition(
                file: reader.file, line: nameNode.mark?.line ?? 0, column: nameNode.mark?.column ?? 0)
            var rule = RetentionRule(name: name, days: 0, location: position)
            var tagRefs: [(name: String, mark: Mark?)] = []
            if let v = f["description"] { rule.description = reader.string(v, what: "description") ?? "" }
            guard let days = f["days"] else {
                reader.report(
                    f.mark, .missingKey, "retention rule '\(name)' has no `days`",
                    hint: "add `days: 365` (days after the last message)")
                continue
            }
            guard let count = reader.int(days, what: "days", range: 1...Self.maxRetentionDays) else { continue }
            rule.days = count
            if let v = f["when"],
                let w = reader.mapping(v, allowed: ["tags", "groups"], what: "`when` of retention rule '\(name)'")
            {
                if let t = w["tags"] {
                    tagRefs = reader.identifierList(t, what: "tags")
                    rule.tags = Set(tagRefs.map(\.name))
                }
                if let g = w["groups"] { rule.groups = Set(reader.stringList(g, what: "groups").map(\.text)) }
            }
            parsed.retention.append(.init(rule: rule, tagRefs: tagRefs))
        }
    }
}

extension PolicyCompiler {
    /// The retention rules of every file in merge order; reports names used twice and undeclared tags.
    mutating func compileRetention(
        _ parsedFiles: [(String, ParsedPolicyFile)], tags: [String: TagDefinition]
    ) -> [RetentionRule] {
        var rules: [RetentionRule] = []
        var names: [String: SourcePosition] = [:]
        for (file, parsed) in parsedFiles {
            for entry in parsed.retention {
                if let first = names[entry.rule.name] {
                    issues.append(
                        PolicyIssue(
                            file: file, line: entry.rule.location.line, column: entry.rule.location.column,
                            code: .duplicateName, message: "retention rule '\(entry.rule.name)' is defined twice",
                            hint: "the first is at \(first)"))
                    continue
                }
                names[entry.rule.name] = entry.rule.location
                for tag in entry.tagRefs where tags[tag.name] == nil {
                    issues.append(
                        PolicyIssue(
                            file: file, line: tag.mark?.line ?? 0, column: tag.mark?.column ?? 0, code: .unknownTag,
                            message: "retention rule '\(entry.rule.name)' names unknown tag '\(tag.name)'",
                            hint: NodeReader.suggestion(for: tag.name, among: tags.keys.sorted())))
                }
                rules.append(entry.rule)
            }
        }
        return rules
    }
}
