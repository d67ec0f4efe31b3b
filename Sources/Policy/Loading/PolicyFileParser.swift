// Reads one policy file into loose pieces (tags, detectors, defaults, rules) with their positions.
// Cross-file checks (unknown references, duplicates across files, contradictions) happen later in
// PolicyCompiler, once every file has been read.
import Yams

/// What one file contributed, before cross-checking.
struct ParsedPolicyFile {
    struct Detector {
        var name: String
        var location: SourcePosition
        var type: String?
        var typeMark: Mark?
        var enabled = true
        var minConfidence = 0.0
        var patterns: [(text: String, mark: Mark?, quoted: Bool)] = []
        var keywords: [String] = []
        var caseSensitive = false
        var context: [String] = []
        var window = 32
        var confidence = 0.8
    }

    struct Defaults {
        var name: String
        var location: SourcePosition
        var tags: [(name: String, mark: Mark?)]
    }

    struct Rule {
        var rule: PolicyRule
        var tagRefs: [(name: String, mark: Mark?)]
        var providerRefs: [(name: String, mark: Mark?)]
        /// Reading the rule reported a problem (a mistyped key, a wrong type): what it says is not what
        /// the admin meant, so no further error is derived from it (the first error is the real one).
        var damaged = false
    }

    var tags: [(TagDefinition, detectorMarks: [Mark?])] = []
    var detectors: [Detector] = []
    var groups: [Defaults] = []
    var users: [Defaults] = []
    var rules: [Rule] = []
    var retention: [Retention] = []
}

/// The schema version this build understands.
public let policySchemaVersion = 1

struct PolicyFileParser {
    static let topKeys = ["version", "description", "tags", "detectors", "groups", "users", "rules", "retention"]
    static let maxFileBytes = 1 << 20

    var reader: NodeReader
    var parsed = ParsedPolicyFile()

    init(file: String) {
        reader = NodeReader(file: file)
    }

    private func location(_ mark: Mark?) -> SourcePosition {
        SourcePosition(file: reader.file, line: mark?.line ?? 0, column: mark?.column ?? 0)
    }

    /// Parses `contents`; problems land in `reader.issues`.
    mutating func parse(_ contents: String, ruleOffset: Int) {
        guard contents.utf8.count <= Self.maxFileBytes else {
            reader.report(nil, .tooLarge, "policy file larger than 1 MiB", hint: "split it into several files")
            return
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: contents)
        } catch let error as YamlError {
            Self.reportYAML(error, contents: contents, into: &reader)
            return
        } catch {
            reader.report(nil, .syntax, "not valid YAML", hint: "check indentation and quoting")
            return
        }
        guard let root else {
            reader.report(
                nil, .version, "empty policy file", hint: "start the file with `version: \(policySchemaVersion)`")
            return
        }
        guard let fields = reader.mapping(root, allowed: Self.topKeys, what: "a policy file") else { return }
        if let version = fields["version"] {
            if let value = reader.int(version, what: "version", range: 0...1_000_000), value != policySchemaVersion {
                reader.report(
                    version.mark, .version, "schema version \(value) is not supported",
                    hint: "this build reads `version: \(policySchemaVersion)`")
            }
        } else {
            reader.report(
                fields.mark, .missingKey, "missing `version`", hint: "add `version: \(policySchemaVersion)` at the top")
        }
        if let description = fields["description"] { _ = reader.string(description, what: "description") }
        if let node = fields["tags"] { parseTags(node) }
        if let node = fields["detectors"] { parseDetectors(node) }
        if let node = fields["groups"] { parsed.groups = parseDefaults(node, what: "groups") }
        if let node = fields["users"] { parsed.users = parseDefaults(node, what: "users") }
        if let node = fields["rules"] { parseRules(node, offset: ruleOffset) }
        if let node = fields["retention"] { parseRetention(node) }
    }

    /// `contents` composed as YAML (nil for an empty document); a syntax error is a `PolicyError` at its
    /// line and column.
    static func compose(_ contents: String, file: String) throws(PolicyError) -> Node? {
        do {
            return try Yams.compose(yaml: contents)
        } catch let error as YamlError {
            var reader = NodeReader(file: file)
            reportYAML(error, contents: contents, into: &reader)
            throw PolicyError.load(reader.issues)
        } catch {
            throw PolicyError.load([
                PolicyIssue(
                    file: file, line: 0, column: 0, code: .syntax, message: "not valid YAML", hint: "check the file")
            ])
        }
    }

    static func reportYAML(_ error: YamlError, contents: String, into reader: inout NodeReader) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            // A tab in the indentation is the usual cause and Yams' words do not say so: name it.
            if let tab = firstIndentingTab(contents) {
                reader.issues.append(
                    PolicyIssue(
                        file: reader.file, line: tab.line, column: tab.column, code: .syntax,
                        message: "a tab character indents this line; YAML indents with spaces only",
                        hint: "replace the tab with spaces"))
                return
            }
            reader.report(mark, .syntax, "YAML: \(problem)", hint: "check indentation, colons and quotes near here")
        case .duplicatedKeysInMapping(let duplicates, let context):
            reader.report(
                context.mark, .duplicateKey,
                "key '\(duplicates.first?.prefix(40) ?? "")' appears more than once in one mapping",
                hint: "keep one of them; this is the first")
        default:
            reader.report(nil, .syntax, "not valid YAML", hint: "the file must be UTF-8 YAML")
        }
    }

    /// The first tab among a line's leading whitespace (1-based line and column).
    static func firstIndentingTab(_ contents: String) -> (line: Int, column: Int)? {
        for (index, line) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for (column, character) in line.enumerated() {
                if character == "\t" { return (index + 1, column + 1) }
                if character != " " { break }
            }
        }
        return nil
    }

    private mutating func parseTags(_ node: Node) {
        for entry in reader.namedEntries(node, what: "tags") {
            var definition = TagDefinition(
                name: entry.name, description: "", detectors: [], location: location(entry.mark))
            var marks: [Mark?] = []
            if case .scalar(let s) = entry.value, s.string.isEmpty || s.string == "~" || s.string == "null" {
                parsed.tags.append((definition, marks))
                continue
            }
            guard
                let fields = reader.mapping(
                    entry.value, allowed: ["description", "detectors"], what: "tag '\(entry.name)'")
            else { continue }
            if let d = fields["description"] { definition.description = reader.string(d, what: "description") ?? "" }
            if let d = fields["detectors"] {
                for item in reader.identifierList(d, what: "detectors") {
                    definition.detectors.append(item.name)
                    marks.append(item.mark)
                }
            }
            parsed.tags.append((definition, marks))
        }
    }

    private static let detectorKeys = [
        "type", "enabled", "min-confidence", "patterns", "keywords", "case-sensitive", "context", "window",
        "confidence",
        "description",
    ]

    private mutating func parseDetectors(_ node: Node) {
        for entry in reader.namedEntries(node, what: "detectors") {
            var detector = ParsedPolicyFile.Detector(name: entry.name, location: location(entry.mark))
            guard let f = reader.mapping(entry.value, allowed: Self.detectorKeys, what: "detector '\(entry.name)'")
            else {
                continue
            }
            if let v = f["type"] {
                detector.type = reader.string(v, what: "type")
                detector.typeMark = v.mark
            }
            if let v = f["enabled"] { detector.enabled = reader.bool(v, what: "enabled") ?? true }
            if let v = f["min-confidence"] {
                detector.minConfidence = reader.double(v, what: "min-confidence", range: 0...1) ?? 0
            }
            if let v = f["confidence"] {
                detector.confidence = reader.double(v, what: "confidence", range: 0...1) ?? 0.8
            }
            if let v = f["case-sensitive"] { detector.caseSensitive = reader.bool(v, what: "case-sensitive") ?? false }
            if let v = f["window"] { detector.window = reader.int(v, what: "window", range: 1...256) ?? 32 }
            if let v = f["description"] { _ = reader.string(v, what: "description") }
            if let v = f["patterns"] {
                for item in reader.list(v, what: "patterns") {
                    guard case .scalar(let s) = item else {
                        reader.report(
                            item.mark, .wrongType, "a pattern must be a single value", hint: "quote it: 'MRN\\d{7}'")
                        continue
                    }
                    detector.patterns.append(
                        (s.string, item.mark, s.style == .singleQuoted || s.style == .doubleQuoted))
                }
            }
            if let v = f["keywords"] { detector.keywords = reader.stringList(v, what: "keywords").map(\.text) }
            if let v = f["context"] { detector.context = reader.stringList(v, what: "context").map(\.text) }
            parsed.detectors.append(detector)
        }
    }

    private mutating func parseDefaults(_ node: Node, what: String) -> [ParsedPolicyFile.Defaults] {
        var result: [ParsedPolicyFile.Defaults] = []
        for entry in reader.namedEntries(node, what: what) {
            guard
                let f = reader.mapping(
                    entry.value, allowed: ["tags", "description"], what: "\(what) entry '\(entry.name)'")
            else { continue }
            if let v = f["description"] { _ = reader.string(v, what: "description") }
            let tags = f["tags"].map { reader.identifierList($0, what: "tags") } ?? []
            result.append(.init(name: entry.name, location: location(entry.mark), tags: tags))
        }
        return result
    }

    private mutating func parseRules(_ node: Node, offset: Int) {
        for item in reader.list(node, what: "rules") {
            let issuesBefore = reader.issues.count
            let allowed = ["name", "description", "priority", "when", "allow"]
            guard let f = reader.mapping(item, allowed: allowed, what: "a rule") else { continue }
            guard let nameNode = f["name"], let name = reader.identifier(nameNode, what: "rule name") else {
                if f["name"] == nil {
                    reader.report(f.mark, .missingKey, "rule without a `name`", hint: "add `name: some-rule-name`")
                }
                continue
            }
            var rule = PolicyRule(
                name: name, description: "", priority: 0, when: RuleCondition(), allow: RuleAllowance(),
                location: location(nameNode.mark), order: offset + parsed.rules.count)
            var tagRefs: [(name: String, mark: Mark?)] = []
            var providerRefs: [(name: String, mark: Mark?)] = []
            if let v = f["description"] { rule.description = reader.string(v, what: "description") ?? "" }
            if let v = f["priority"] { rule.priority = reader.int(v, what: "priority", range: -1000...1000) ?? 0 }
            if let v = f["when"] { rule.when = parseCondition(v, rule: name, tagRefs: &tagRefs) }
            if let v = f["allow"] {
                rule.allow = parseAllowance(v, rule: name, providerRefs: &providerRefs)
            } else {
                reader.report(
                    f.mark, .missingKey, "rule '\(name)' has no `allow`", hint: "add `allow: {residency: [on-prem]}`")
            }
            parsed.rules.append(
                .init(
                    rule: rule, tagRefs: tagRefs, providerRefs: providerRefs,
                    damaged: reader.issues.count > issuesBefore))
        }
    }

    private mutating func parseCondition(
        _ node: Node, rule: String, tagRefs: inout [(name: String, mark: Mark?)]
    ) -> RuleCondition {
        var condition = RuleCondition()
        guard
            let f = reader.mapping(
                node, allowed: ["tags", "untagged", "users", "groups"], what: "`when` of rule '\(rule)'")
        else { return condition }
        if let v = f["tags"],
            let t = reader.mapping(v, allowed: ["any", "all", "none"], what: "`when.tags` of rule '\(rule)'")
        {
            func names(_ key: String) -> Set<String> {
                guard let list = t[key] else { return [] }
                let items = reader.identifierList(list, what: "tags.\(key)")
                tagRefs += items
                return Set(items.map(\.name))
            }
            condition.anyTags = names("any")
            condition.allTags = names("all")
            condition.noTags = names("none")
        }
        if let v = f["untagged"] { condition.untagged = reader.bool(v, what: "untagged") }
        if let v = f["users"] { condition.users = Set(reader.stringList(v, what: "users").map(\.text)) }
        if let v = f["groups"] { condition.groups = Set(reader.stringList(v, what: "groups").map(\.text)) }
        return condition
    }

    private mutating func parseAllowance(
        _ node: Node, rule: String, providerRefs: inout [(name: String, mark: Mark?)]
    ) -> RuleAllowance {
        var allowance = RuleAllowance()
        guard
            let f = reader.mapping(
                node, allowed: ["residency", "regions", "providers"], what: "`allow` of rule '\(rule)'")
        else { return allowance }
        if let v = f["residency"] {
            for item in reader.stringList(v, what: "residency") {
                if let residency = Residency(rawValue: item.text) {
                    allowance.residency.insert(residency)
                } else {
                    reader.report(
                        item.mark, .badValue, "unknown residency class '\(item.text.prefix(40))'",
                        hint: NodeReader.suggestion(for: item.text, among: Residency.allCases.map(\.rawValue)))
                }
            }
        }
        if let v = f["regions"] { allowance.regions = Set(reader.stringList(v, what: "regions").map(\.text)) }
        if let v = f["providers"] {
            let items = reader.identifierList(v, what: "providers")
            providerRefs += items
            allowance.providers = Set(items.map(\.name))
        }
        return allowance
    }
}
