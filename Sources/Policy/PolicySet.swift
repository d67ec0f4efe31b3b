// A loaded, validated policy set: what the server consults for every message. Loading reads every
// `*.yaml` directly in the directory, sorted by file name, and either returns a complete PolicySet or
// every problem found; there is no partially loaded policy.
import Foundation

/// The merged, checked policy of one directory.
public struct PolicySet: Sendable {
    /// SHA-256 over the file names and contents, in load order; names the policy in audit records.
    public let sha256: String
    /// The files merged, in order.
    public let files: [String]
    public let tags: [String: TagDefinition]
    /// Rules in merged order.
    public let rules: [PolicyRule]
    /// Every detector the policy can use (all built-ins plus admin-defined ones), by name.
    public let detectors: [String: DetectorDefinition]
    /// Group name → tags every conversation of its members starts with.
    public let groupDefaults: [String: Set<String>]
    /// User name → tags every conversation of that user starts with.
    public let userDefaults: [String: Set<String>]
    /// Detector name → tags its findings set.
    public let detectorTags: [String: Set<String>]
    /// Retention rules in merged order (Retention.swift); empty keeps every conversation.
    public internal(set) var retention: [RetentionRule] = []
    let suite: DetectorSuite

    /// Loads every `*.yaml` file directly inside `directory`.
    /// - Parameter providers: when given, provider names in rules are checked against it.
    public static func load(directory: String, providers: [ProviderDescriptor]? = nil) throws(PolicyError)
        -> PolicySet
    {
        let files = try readDirectory(directory)
        return try parse(files: files, providers: providers)
    }

    /// Builds a policy from file contents (name shown in messages, contents), merged in the order given.
    public static func parse(
        files: [(name: String, contents: String)], providers: [ProviderDescriptor]? = nil
    ) throws(PolicyError) -> PolicySet {
        var compiler = PolicyCompiler()
        guard let policy = compiler.compile(files: files, providers: providers) else {
            throw PolicyError.load(compiler.issues)
        }
        return policy
    }

    /// The `*.yaml` files directly in `directory`, sorted by name, with their contents.
    static func readDirectory(_ directory: String) throws(PolicyError) -> [(name: String, contents: String)] {
        func failure(_ file: String, _ message: String, _ hint: String) -> PolicyError {
            PolicyError.load([
                PolicyIssue(file: file, line: 0, column: 0, code: .io, message: message, hint: hint)
            ])
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw failure(directory, "cannot read the policy directory", "check that it exists and is readable")
        }
        var files: [(name: String, contents: String)] = []
        for name in names.filter({ $0.hasSuffix(".yaml") && !$0.hasPrefix(".") }).sorted() {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw failure(path, "cannot read the policy file", "check its permissions")
            }
            guard data.count <= PolicyFileParser.maxFileBytes else {
                throw PolicyError.load([
                    PolicyIssue(
                        file: path, line: 0, column: 0, code: .tooLarge, message: "policy file larger than 1 MiB",
                        hint: "split it into several files")
                ])
            }
            guard let contents = String(data: data, encoding: .utf8) else {
                throw failure(path, "the policy file is not UTF-8", "save it as UTF-8")
            }
            files.append((path, contents))
        }
        return files
    }

    /// Runs the policy's detectors over one message.
    /// - Throws: `PolicyError` when the message is too large or too costly; fail closed then.
    public func detect(_ text: String) throws(PolicyError) -> Detection {
        let hits = try suite.run(text)
        var detection = Detection(hits: hits)
        // Count in a short list first (a policy has few detectors): one hash per name, not per hit.
        var counts: [(name: String, count: Int)] = []
        for hit in hits {
            if let k = counts.firstIndex(where: { $0.name == hit.detector }) {
                counts[k].count += 1
            } else {
                counts.append((hit.detector, 1))
            }
        }
        for (name, count) in counts {
            detection.countsByDetector[name] = count
            detection.tags.formUnion(detectorTags[name] ?? [])
        }
        return detection
    }

    /// The tags a conversation of `user` (member of `groups`) starts with.
    public func defaultTags(user: String, groups: [String]) -> Set<String> {
        var result = userDefaults[user] ?? []
        for group in groups { result.formUnion(groupDefaults[group] ?? []) }
        return result
    }

    /// Whether `tag` is defined (a user's `/tag` must name one).
    public func isKnownTag(_ tag: String) -> Bool { tags[tag] != nil }

    /// The built-in detectors this policy runs.
    public var activeBuiltins: Set<BuiltinDetector> { suite.builtins }

    /// Problems with provider names in rules against a registry (for `policy check --providers-file`).
    public func providerIssues(_ providers: [ProviderDescriptor]) -> [PolicyIssue] {
        let names = Set(providers.map(\.name))
        var issues: [PolicyIssue] = []
        for rule in rules {
            for provider in rule.allow.providers.sorted() where !names.contains(provider) {
                issues.append(
                    PolicyIssue(
                        file: rule.location.file, line: rule.location.line, column: rule.location.column,
                        code: .unknownProvider, message: "rule '\(rule.name)' names unknown provider '\(provider)'",
                        hint: NodeReader.suggestion(for: provider, among: names.sorted())))
            }
        }
        return issues
    }
}

/// Tag bookkeeping for one conversation: tags only grow. The server stores the result (Storage's
/// `addTags` also only grows); removing a tag is a separate, audited compliance action.
public enum ConversationTags {
    /// The conversation's tags after one more message: what it had, what the message's detection
    /// found, and the defaults of its user and groups. Never smaller than `existing`.
    public static func accumulate(
        existing: Set<String>, detection: Detection?, policy: PolicySet?, user: String, groups: [String]
    ) -> Set<String> {
        var result = existing
        if let detection { result.formUnion(detection.tags) }
        if let policy { result.formUnion(policy.defaultTags(user: user, groups: groups)) }
        return result
    }
}
