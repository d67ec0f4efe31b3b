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

/// Options shared by the policy subcommands: one spelling of the directory option everywhere
/// (`--policies`, as `enclave serve` has it), and where the provider registry comes from.
struct PolicyLocation: ParsableArguments {
    @Option(
        name: .customLong("policies"),
        help:
            "The policy directory (default: $ENCLAVE_POLICIES, else server.policies of the configuration, else ./policies)."
    )
    var policiesFlag: String?

    /// The policy directory `serve` would read with the same flag, environment and configuration file.
    var policies: String {
        get throws { try Settings.resolve(SettingFlags(config: config, policies: policiesFlag)).policies.value }
    }

    @Option(name: .customLong("providers-file"), help: "YAML with a `providers:` list (name, residency, region).")
    var providersFile: String?

    @Option(
        help: "The server configuration whose `providers:` rules are checked against (default deploy/enclave.yaml).")
    var config: String?

    static let defaultConfiguration = "deploy/enclave.yaml"

    /// The registry to judge against: the given providers file or server configuration; else, when
    /// `fromConfiguration`, the default configuration if it exists (nil without one); else the
    /// baseline names (local, vpc-llm, external-gpt).
    func providers(fromConfiguration: Bool) throws -> [ProviderDescriptor]? {
        let configured = config ?? (fromConfiguration ? Self.defaultConfiguration : nil)
        guard let path = providersFile ?? configured else { return ProviderDescriptor.baseline }
        if providersFile == nil, config == nil, !FileManager.default.fileExists(atPath: path) { return nil }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ValidationError("cannot read providers file \(path)")
        }
        do {
            return try ProviderFile.parse(text, file: path)
        } catch {
            printIssues(error.issues)
            throw ExitCode(1)
        }
    }

    /// Where the registry came from, for `policy check`'s summary.
    var registrySource: String { providersFile ?? config ?? Self.defaultConfiguration }
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
        commandName: "check",
        abstract: "Validate a policy directory; exit 1 with file:line:column errors, print warnings.",
        discussion: "Provider names in rules are checked against the server configuration's `providers:`.")

    @Argument(help: ArgumentHelp("Same as --policies (kept for old scripts).", visibility: .hidden))
    var directory: String?
    @OptionGroup var location: PolicyLocation

    func run() async throws {
        let providers = try location.providers(fromConfiguration: true)
        let policy = try loadPolicy(try directory ?? location.policies, providers: providers)
        let warnings = policy.warnings
        for warning in warnings { FileHandle.standardError.write(Data((warning.warningDescription + "\n").utf8)) }
        print(
            "policy ok: \(policy.files.count) file(s), \(policy.tags.count) tags, \(policy.rules.count) rules"
                + (policy.retention.isEmpty ? "" : ", \(policy.retention.count) retention rule(s)"))
        if let providers {
            print("providers checked against \(location.registrySource) (\(providers.count) provider(s))")
        } else {
            print("provider names not checked: no \(location.registrySource) (give --config or --providers-file)")
        }
        if !warnings.isEmpty { print("\(warnings.count) warning(s)") }
        print("sha256 \(policy.sha256)")
    }
}

struct PolicyTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Run the policy's test cases in DIR/tests/*.yaml, like `opa test`.")

    @Argument(help: ArgumentHelp("Same as --policies (kept for old scripts).", visibility: .hidden))
    var path: String?
    @Flag(name: .shortAndLong, help: "List every case, not only failures.") var verbose = false
    @OptionGroup var location: PolicyLocation

    func run() async throws {
        let providers = try location.providers(fromConfiguration: false) ?? ProviderDescriptor.baseline
        let directory = try path ?? location.policies
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
