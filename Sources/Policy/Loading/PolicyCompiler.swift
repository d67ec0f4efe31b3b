// Merges the parsed files of a policy directory (in file-name order) and checks what no single
// file can: references to tags, detectors and providers, names defined twice across files, and
// rules that contradict each other. Produces the PolicySet or every issue found.
import Yams

struct PolicyCompiler {
    var issues: [PolicyIssue] = []

    private mutating func report(_ location: SourcePosition, _ code: PolicyIssue.Code, _ message: String, hint: String)
    {
        issues.append(
            PolicyIssue(
                file: location.file, line: location.line, column: location.column, code: code, message: message,
                hint: hint))
    }

    private mutating func report(
        _ file: String, _ mark: Mark?, _ code: PolicyIssue.Code, _ message: String, hint: String
    ) {
        report(SourcePosition(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0), code, message, hint: hint)
    }

    /// - Parameters:
    ///   - files: (name as shown in messages, contents), in the order to merge.
    ///   - providers: the registry to check provider names against, if known.
    mutating func compile(files: [(name: String, contents: String)], providers: [ProviderDescriptor]?) -> PolicySet? {
        if files.isEmpty {
            report(
                SourcePosition(file: "(policy directory)", line: 0, column: 0), .noFiles, "no *.yaml policy files",
                hint: "add at least one file such as `policies/00-tags.yaml`")
            return nil
        }
        var parsedFiles: [(String, ParsedPolicyFile)] = []
        var ruleCount = 0
        for file in files {
            var parser = PolicyFileParser(file: file.name)
            parser.parse(file.contents, ruleOffset: ruleCount)
            ruleCount += parser.parsed.rules.count
            issues += parser.reader.issues
            parsedFiles.append((file.name, parser.parsed))
        }
        // A file that is not YAML contributes nothing, so every reference to it would be reported as
        // unknown too; report the syntax errors alone.
        if issues.contains(where: { $0.code == .syntax || $0.code == .tooLarge }) { return nil }

        // Tags.
        var tags: [String: TagDefinition] = [:]
        var tagDetectorMarks: [String: (String, [Mark?])] = [:]
        for (file, parsed) in parsedFiles {
            for (tag, marks) in parsed.tags {
                if let first = tags[tag.name] {
                    report(
                        tag.location, .duplicateName, "tag '\(tag.name)' is defined twice",
                        hint: "the first is at \(first.location)")
                    continue
                }
                tags[tag.name] = tag
                tagDetectorMarks[tag.name] = (file, marks)
            }
        }

        // Detectors: built-ins are configured by name; other names are admin-defined.
        var suite = DetectorSuite()
        var definitions: [String: DetectorDefinition] = [:]
        for (file, parsed) in parsedFiles {
            for d in parsed.detectors {
                if let first = definitions[d.name], first.location != nil {
                    report(
                        d.location, .duplicateName, "detector '\(d.name)' is defined twice",
                        hint: "the first is at \(first.location!)")
                    continue
                }
                if let builtin = BuiltinDetector(rawValue: d.name) {
                    if d.type != nil || !d.patterns.isEmpty || !d.keywords.isEmpty {
                        report(
                            file, d.typeMark, .badValue, "'\(d.name)' is a built-in detector",
                            hint: "built-ins take only `enabled` and `min-confidence`; choose another name for your own"
                        )
                    }
                    definitions[d.name] = DetectorDefinition(
                        name: d.name, kind: .builtin(builtin), enabled: d.enabled, minConfidence: d.minConfidence,
                        location: d.location)
                    continue
                }
                guard let admin = compileAdminDetector(d, file: file) else { continue }
                let kind: DetectorDefinition.Kind =
                    d.type == "keywords" ? .keywords(count: d.keywords.count) : .pattern(count: d.patterns.count)
                definitions[d.name] = DetectorDefinition(
                    name: d.name, kind: kind, enabled: d.enabled, minConfidence: d.minConfidence, location: d.location)
                if d.enabled { suite.admin.append(admin) }
            }
        }
        for builtin in BuiltinDetector.allCases where definitions[builtin.rawValue] == nil {
            definitions[builtin.rawValue] = DetectorDefinition(
                name: builtin.rawValue, kind: .builtin(builtin), enabled: true, minConfidence: 0, location: nil)
        }
        var detectorTags: [String: Set<String>] = [:]
        for name in tags.keys.sorted() {
            guard let tag = tags[name], let (file, marks) = tagDetectorMarks[name] else { continue }
            for (index, detector) in tag.detectors.enumerated() {
                guard definitions[detector] != nil else {
                    report(
                        file, marks[index], .unknownDetector, "tag '\(name)' uses unknown detector '\(detector)'",
                        hint: NodeReader.suggestion(for: detector, among: definitions.keys.sorted()))
                    continue
                }
                detectorTags[detector, default: []].insert(name)
            }
        }
        for (name, definition) in definitions where definition.enabled && definition.minConfidence > 0 {
            suite.minConfidence[name] = definition.minConfidence
        }
        // Built-ins run only when a tag uses them and they are not disabled: no work without a purpose.
        for builtin in BuiltinDetector.allCases
        where definitions[builtin.rawValue]?.enabled == true && detectorTags[builtin.rawValue] != nil {
            suite.builtins.insert(builtin)
        }

        // Defaults.
        func defaults(_ kind: String, _ pick: (ParsedPolicyFile) -> [ParsedPolicyFile.Defaults]) -> [String: Set<
            String
        >] {
            var result: [String: Set<String>] = [:]
            var seen: [String: SourcePosition] = [:]
            for (file, parsed) in parsedFiles {
                for entry in pick(parsed) {
                    if let first = seen[entry.name] {
                        report(
                            entry.location, .duplicateName, "\(kind) '\(entry.name)' is listed twice",
                            hint: "the first is at \(first)")
                        continue
                    }
                    seen[entry.name] = entry.location
                    for tag in entry.tags where tags[tag.name] == nil {
                        report(
                            file, tag.mark, .unknownTag, "unknown tag '\(tag.name)'",
                            hint: NodeReader.suggestion(for: tag.name, among: tags.keys.sorted()))
                    }
                    result[entry.name] = Set(entry.tags.map(\.name)).intersection(tags.keys)
                }
            }
            return result
        }
        let groupDefaults = defaults("group") { $0.groups }
        let userDefaults = defaults("user") { $0.users }

        // Rules.
        var rules: [PolicyRule] = []
        var ruleNames: [String: SourcePosition] = [:]
        let providerNames = providers.map { Set($0.map(\.name)) }
        for (file, parsed) in parsedFiles {
            for entry in parsed.rules {
                let rule = entry.rule
                if let first = ruleNames[rule.name] {
                    report(
                        rule.location, .duplicateName, "rule '\(rule.name)' is defined twice",
                        hint: "the first is at \(first)")
                    continue
                }
                ruleNames[rule.name] = rule.location
                for tag in entry.tagRefs where tags[tag.name] == nil {
                    report(
                        file, tag.mark, .unknownTag, "rule '\(rule.name)' names unknown tag '\(tag.name)'",
                        hint: NodeReader.suggestion(for: tag.name, among: tags.keys.sorted()))
                }
                if let providerNames {
                    for provider in entry.providerRefs where !providerNames.contains(provider.name) {
                        report(
                            file, provider.mark, .unknownProvider,
                            "rule '\(rule.name)' names unknown provider '\(provider.name)'",
                            hint: NodeReader.suggestion(for: provider.name, among: providerNames.sorted()))
                    }
                }
                guard !entry.damaged else { continue }
                checkSelfContradiction(rule)
                rules.append(rule)
            }
        }
        checkContradictions(rules)
        let retention = compileRetention(parsedFiles, tags: tags)
        guard issues.isEmpty else { return nil }
        // Empty only when hashing cannot allocate; audit records then show it as such.
        let fingerprint = PolicySet.fingerprint(files: files)
        var policy = PolicySet(
            sha256: fingerprint, files: files.map(\.name), tags: tags, rules: rules,
            detectors: definitions, groupDefaults: groupDefaults, userDefaults: userDefaults,
            detectorTags: detectorTags, suite: suite)
        policy.retention = retention
        return policy
    }

    private mutating func compileAdminDetector(_ d: ParsedPolicyFile.Detector, file: String) -> AdminDetector? {
        let context = d.context.isEmpty ? nil : KeywordMatcher(d.context)
        switch d.type {
        case "pattern":
            guard !d.patterns.isEmpty, d.keywords.isEmpty else {
                report(
                    d.location, .missingKey, "pattern detector '\(d.name)' needs `patterns` (and no `keywords`)",
                    hint: "add `patterns: ['MRN[-: ]?\\d{7}']`")
                return nil
            }
            var compiled: [Pattern] = []
            for p in d.patterns {
                do {
                    compiled.append(try Pattern(p.text, caseInsensitive: !d.caseSensitive))
                } catch {
                    let column = (p.mark?.column ?? 0) + (p.quoted ? 1 : 0) + error.offset
                    report(
                        SourcePosition(file: file, line: p.mark?.line ?? 0, column: column), .badPattern,
                        "bad pattern in detector '\(d.name)': \(error.message)",
                        hint:
                            "supported: literals, [classes], \\d \\w \\s \\b, ( | ), ? * + {m,n}; quote patterns with ''"
                    )
                }
            }
            // One pass over the message for all of a detector's patterns: run them as one alternation.
            if compiled.count == d.patterns.count, compiled.count > 1,
                let combined = try? Pattern(
                    d.patterns.map { "(?:\($0.text))" }.joined(separator: "|"), caseInsensitive: !d.caseSensitive)
            {
                compiled = [combined]
            }
            return AdminDetector(
                name: d.name, kind: .patterns(compiled), context: context, window: d.window, confidence: d.confidence)
        case "keywords":
            guard !d.keywords.isEmpty, d.patterns.isEmpty else {
                report(
                    d.location, .missingKey, "keywords detector '\(d.name)' needs `keywords` (and no `patterns`)",
                    hint: "add `keywords: [chemotherapy, \"radiation therapy\"]`")
                return nil
            }
            return AdminDetector(
                name: d.name, kind: .keywords(KeywordMatcher(d.keywords)), context: context, window: d.window,
                confidence: d.confidence)
        case nil:
            report(
                d.location, .unknownDetector, "'\(d.name)' is not a built-in detector and has no `type`",
                hint: NodeReader.suggestion(for: d.name, among: BuiltinDetector.allCases.map(\.rawValue))
                    + " (or add `type: pattern` / `type: keywords`)")
            return nil
        case let other?:
            report(
                file, d.typeMark, .badValue, "unknown detector type '\(other.prefix(40))'",
                hint: "use `pattern` or `keywords`")
            return nil
        }
    }

    private mutating func checkSelfContradiction(_ rule: PolicyRule) {
        let w = rule.when
        let clash = w.governedTags.intersection(w.noTags)
        if !clash.isEmpty {
            report(
                rule.location, .contradiction,
                "rule '\(rule.name)' both requires and excludes tag '\(clash.sorted()[0])', so it can never apply",
                hint: "remove the tag from `none` or from `any`/`all`")
        }
        if w.untagged == true, !w.governedTags.isEmpty {
            report(
                rule.location, .contradiction, "rule '\(rule.name)' requires tags and `untagged: true` at once",
                hint: "split it into two rules")
        }
        if conditionKey(w) == conditionKey(RuleCondition()) {
            report(
                rule.location, .badValue, "rule '\(rule.name)' has an empty `when`, so it would apply to everyone",
                hint: "name tags, users or groups, or write `when: {untagged: true}` for untagged conversations")
        }
        if rule.allow.residency.isEmpty, rule.allow.providers.isEmpty {
            report(
                rule.location, .badValue, "rule '\(rule.name)' allows nothing",
                hint: "list at least one residency class or provider; unmatched requests are already on-prem only")
        }
    }

    /// Two rules at the same priority with the same conditions but different destinations leave the
    /// outcome to file order, which an admin would not expect: reject them.
    private mutating func checkContradictions(_ rules: [PolicyRule]) {
        var seen: [String: PolicyRule] = [:]
        for rule in rules {
            let key = "\(rule.priority)|\(conditionKey(rule.when))"
            if let other = seen[key] {
                if other.allow != rule.allow {
                    report(
                        rule.location, .contradiction,
                        "rule '\(rule.name)' has the same conditions and priority as '\(other.name)' but allows something else",
                        hint: "merge them, or give one a higher `priority` (\(other.name) is at \(other.location))")
                }
            } else {
                seen[key] = rule
            }
        }
    }

    private func conditionKey(_ c: RuleCondition) -> String {
        func list(_ s: Set<String>?) -> String { s.map { $0.sorted().joined(separator: ",") } ?? "*" }
        return [
            list(c.anyTags), list(c.allTags), list(c.noTags), c.untagged.map(String.init) ?? "*", list(c.users),
            list(c.groups),
        ].joined(separator: "|")
    }
}
