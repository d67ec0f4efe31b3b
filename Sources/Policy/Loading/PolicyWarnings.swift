// Authoring warnings: things a policy may legitimately say but rarely means. They never reject a
// load (a running server keeps serving); `enclave policy check` prints them so an admin sees them
// before the policy goes live.

extension PolicySet {
    /// What `policy check` warns about: tags no rule names, detectors used by two or more tags.
    public var warnings: [PolicyIssue] {
        var named: Set<String> = []
        for rule in rules { named.formUnion(rule.when.governedTags.union(rule.when.noTags)) }
        var result: [PolicyIssue] = []
        for tag in tags.values.sorted(by: { $0.name < $1.name }) where !named.contains(tag.name) {
            result.append(
                PolicyIssue(
                    file: tag.location.file, line: tag.location.line, column: tag.location.column, code: .unusedTag,
                    message:
                        "tag '\(tag.name)' is named by no rule, so its conversations may use on-prem providers only",
                    hint: "add a rule with `when: {tags: {any: [\(tag.name)]}}`, or remove the tag"))
        }
        for (detector, owners) in detectorTags.sorted(by: { $0.key < $1.key }) where owners.count > 1 {
            let first = owners.compactMap { tags[$0] }.min { $0.location.description < $1.location.description }
            result.append(
                PolicyIssue(
                    file: first?.location.file ?? "", line: first?.location.line ?? 0,
                    column: first?.location.column ?? 0, code: .sharedDetector,
                    message: "detector '\(detector)' is used by tags \(owners.sorted().joined(separator: ", "))",
                    hint: "a finding sets every one of them; list the detector under one tag"))
        }
        return result
    }
}
