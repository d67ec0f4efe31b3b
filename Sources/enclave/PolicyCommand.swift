// `enclave policy check|explain|test|bench`: the admin's tools for the residency policy in policies/.
// Output names files, lines, columns, detectors, tags and rules, never the text of a message.
import ArgumentParser
import Foundation
import Policy

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check, explain and test residency policy files.",
        subcommands: [PolicyCheck.self, PolicyExplain.self, PolicyTest.self]
    )
}

/// Options shared by the policy subcommands.
struct PolicyLocation: ParsableArguments {
    @Option(name: .customLong("providers-file"), help: "YAML with a `providers:` list (name, residency, region).")
    var providersFile: String?

    /// The registry to judge against: the given file, else the baseline names (local, vpc-llm, external-gpt).
    func providers(strict: Bool) throws -> [ProviderDescriptor]? {
        guard let providersFile else { return strict ? nil : ProviderDescriptor.baseline }
        guard let data = FileManager.default.contents(atPath: providersFile),
            let text = String(data: data, encoding: .utf8)
        else {
            throw ValidationError("cannot read providers file \(providersFile)")
        }
        do {
            return try ProviderFile.parse(text, file: providersFile)
        } catch {
            printIssues(error.issues)
            throw ExitCode(1)
        }
    }
}

func printIssues(_ issues: [PolicyIssue]) {
    let sorted = issues.sorted { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
    for issue in sorted { FileHandle.standardError.write(Data((issue.description + "\n").utf8)) }
}

func loadPolicy(_ directory: String, providers: [ProviderDescriptor]?) throws -> PolicySet {
    do {
        return try PolicySet.load(directory: directory, providers: providers)
    } catch {
        printIssues(error.issues)
        FileHandle.standardError.write(Data("policy rejected: \(error.issues.count) problem(s)\n".utf8))
        throw ExitCode(1)
    }
}

struct PolicyCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate a policy directory; exit 1 with file:line:column errors.")

    @Argument(help: "The policy directory.") var directory = "policies"
    @OptionGroup var location: PolicyLocation

    func run() async throws {
        let providers = try location.providers(strict: true)
        let policy = try loadPolicy(directory, providers: providers)
        print("policy ok: \(policy.files.count) file(s), \(policy.tags.count) tags, \(policy.rules.count) rules")
        print("sha256 \(policy.sha256)")
    }
}

struct PolicyExplain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show which detectors fire where in a text, the tags that result and the deciding rule.")

    @Option(name: .customLong("text-file"), help: "The text to examine (treated as one message).") var textFile: String
    @Option(help: "The policy directory.") var dir = "policies"
    @Option(help: "The user asking.") var user = "anonymous"
    @Option(help: "Comma-separated groups of the user.") var groups = ""
    @Option(help: "The provider requested.") var provider: String?
    @OptionGroup var location: PolicyLocation

    func run() async throws {
        let providers = try location.providers(strict: false) ?? ProviderDescriptor.baseline
        let policy = try loadPolicy(dir, providers: providers)
        guard let data = FileManager.default.contents(atPath: textFile) else {
            throw ValidationError("cannot read \(textFile)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let groupList = groups.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }
        var detection: Detection?
        do throws(DetectionError) {
            detection = try policy.detect(text)
        } catch {
            print("detectors failed (\(error)); the decision fails closed")
        }
        let lineStarts = [0] + text.utf8.enumerated().filter { $0.element == 0x0A }.map { $0.offset + 1 }
        for hit in detection?.hits ?? [] {
            let line = lineStarts.lastIndex { $0 <= hit.range.lowerBound } ?? 0
            let column = hit.range.lowerBound - lineStarts[line] + 1
            let tags = policy.detectorTags[hit.detector]?.sorted().joined(separator: ",") ?? "-"
            print(
                "\(textFile):\(line + 1):\(column): \(hit.detector) (\(hit.range.count) bytes, confidence "
                    + "\(String(format: "%.2f", hit.confidence))) -> tags \(tags)")
        }
        let defaults = policy.defaultTags(user: user, groups: groupList)
        if !defaults.isEmpty { print("defaults for \(user): \(defaults.sorted().joined(separator: ", "))") }
        let tags = ConversationTags.accumulate(
            existing: [], detection: detection, policy: policy, user: user, groups: groupList)
        print("tags: \(tags.isEmpty ? "(none)" : tags.sorted().joined(separator: ", "))")
        let decision = evaluate(
            policy,
            DecisionRequest(
                tags: tags, user: user, groups: groupList, requestedProvider: provider, providers: providers,
                detectorCounts: detection?.countsByDetector ?? [:], detectionFailed: detection == nil))
        print("allowed: \(decision.allowed.isEmpty ? "(none)" : decision.allowed.joined(separator: ", "))")
        for (name, rule) in decision.denied.sorted(by: { $0.key < $1.key }) { print("denied: \(name) by \(rule)") }
        print("rule: \(decision.rule)")
        print("reason: \(decision.reason)")
        if let provider { print("\(provider): \(decision.allows(provider) ? "allowed" : "denied")") }
    }
}

struct PolicyTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Run the policy's test cases in DIR/tests/*.yaml, like `opa test`.")

    @Argument(help: "The policy directory.") var directory = "policies"
    @Flag(name: .shortAndLong, help: "List every case, not only failures.") var verbose = false
    @OptionGroup var location: PolicyLocation

    func run() async throws {
        let providers = try location.providers(strict: false) ?? ProviderDescriptor.baseline
        let policy = try loadPolicy(directory, providers: providers)
        let testDirectory = (directory as NSString).appendingPathComponent("tests")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: testDirectory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.sorted()
        guard !names.isEmpty else {
            FileHandle.standardError.write(Data("no test files in \(testDirectory)\n".utf8))
            throw ExitCode(1)
        }
        var passed = 0
        var failed = 0
        for name in names {
            let path = (testDirectory as NSString).appendingPathComponent(name)
            let contents = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
            let cases: [PolicyTestCase]
            do {
                cases = try PolicyTestRunner.parse(contents, file: path)
            } catch {
                printIssues(error.issues)
                throw ExitCode(1)
            }
            for testCase in cases {
                let result = PolicyTestRunner.run(testCase, policy: policy, providers: providers)
                if result.passed {
                    passed += 1
                    if verbose { print("PASS \(testCase.location): \(testCase.name)") }
                } else {
                    failed += 1
                    print("FAIL \(testCase.location): \(testCase.name)")
                    for failure in result.failures { print("     \(failure)") }
                }
            }
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}
