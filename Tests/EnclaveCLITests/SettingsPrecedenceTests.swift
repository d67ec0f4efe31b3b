// One precedence for every setting, applied the same way by every command: flag > environment > file >
// default. Four data directories each hold one account of their own; each command is run at each level
// and must show the account (or path) of the level that should win — read from what the command does
// (the users it lists, the database it opens, the audit records it finds, the directory it checks, the
// account `serve` lets log in), not from a shared resolver's say-so.
import EnclaveClient
import Foundation
import Testing

/// The shared layout's directory; the process removes it when it exits (no test owns the layout).
private let precedenceRoot = FileManager.default.temporaryDirectory.appendingPathComponent(
    "enclave-prec-\(UUID().uuidString)")

@Suite(.serialized) struct SettingsPrecedenceTests {
    enum Level: String, CaseIterable, Sendable {
        case `default`, file, environment, flag
    }

    /// A working directory with `data/`, `file-data/`, `env-data/`, `flag-data/` (one user each, named
    /// after its level) and `conf/enclave.yaml` naming `../file-data`, relative to the file.
    final class Layout: @unchecked Sendable {  // written once in init, then only read
        let root: URL
        static let directories: [Level: String] = [
            .default: "data", .file: "file-data", .environment: "env-data", .flag: "flag-data",
        ]
        static let policyDirectories: [Level: String] = [
            .default: "policies", .file: "file-policies", .environment: "env-policies", .flag: "flag-policies",
        ]

        init() throws {
            root = precedenceRoot
            atexit { try? FileManager.default.removeItem(at: precedenceRoot) }
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent("conf"), withIntermediateDirectories: true)
            try "server:\n  data_dir: ../file-data\n  policies: ../file-policies\n".write(
                to: root.appendingPathComponent("conf/enclave.yaml"), atomically: true, encoding: .utf8)
            // A policy directory per level, told apart by its number of rules (1 to 4).
            for (index, level) in Level.allCases.enumerated() {
                let directory = root.appendingPathComponent(Self.policyDirectories[level]!)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                let rules = (0...index).map {
                    "  - name: rule-\($0)\n    when: {untagged: true}\n    allow: {residency: [on-prem]}\n"
                }
                try ("version: 1\ntags:\n  misc: {}\nrules:\n" + rules.joined()).write(
                    to: directory.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
            }
            for level in Level.allCases {
                let added = try EnclaveBinary.run(
                    [
                        "users", "add", "user-\(level.rawValue)", "--role", "staff", "--permanent", "--data-dir",
                        Self.directories[level]!,
                    ],
                    stdin: "password-of-\(level.rawValue)\n", environment: Layout.clean, in: root)
                guard added.status == 0 else { throw LineClientError(description: "users add: \(added.stderr)") }
            }
        }

        /// The environment without any of our variables (the test runner's own must not leak in).
        static var clean: [String: String] {
            [
                "ENCLAVE_CONFIG": "", "ENCLAVE_DATA_DIR": "", "ENCLAVE_DATABASE": "", "ENCLAVE_AUDIT_DIR": "",
                "ENCLAVE_KEY_FILE": "", "ENCLAVE_POLICIES": "",
            ]
        }

        /// Arguments and environment that make `level` the strongest one given.
        func invocation(_ level: Level) -> (arguments: [String], environment: [String: String]) {
            var arguments: [String] = []
            var environment = Layout.clean
            if level != .default { arguments += ["--config", "conf/enclave.yaml"] }
            if level == .environment || level == .flag { environment["ENCLAVE_DATA_DIR"] = "env-data" }
            if level == .flag { arguments += ["--data-dir", "flag-data"] }
            return (arguments, environment)
        }
    }

    static let layout = Result { try Layout() }

    /// Each command, and how to see which data directory it used.
    static let commands: [String] = ["users list", "keys status", "audit search", "doctor"]

    @Test(arguments: commands, Level.allCases)
    func theStrongestLevelWins(command: String, level: Level) throws {
        let layout = try Self.layout.get()
        let (arguments, environment) = layout.invocation(level)
        let words = command.split(separator: " ").map(String.init)
        let result = try EnclaveBinary.run(
            words + arguments + (command == "audit search" ? ["action=user.create"] : []), environment: environment,
            in: layout.root)
        let directory = Layout.directories[level]!
        switch command {
        case "users list":
            #expect(result.stdout.hasPrefix("user-\(level.rawValue)\t"), "\(result.stdout)\(result.stderr)")
        case "keys status":
            let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("database ") }
            let parent = line.map { (String($0.dropFirst(9)) as NSString).deletingLastPathComponent }
            #expect(parent.map { ($0 as NSString).lastPathComponent } == directory, "\(result.stdout)\(result.stderr)")
        case "audit search":
            #expect(result.stdout.contains("user-\(level.rawValue)"), "\(result.stdout)\(result.stderr)")
            for other in Level.allCases where other != level {
                #expect(!result.stdout.contains("user-\(other.rawValue)"), "\(result.stdout)")
            }
        default:
            // `ok   data.dir   <path> (mode ...)`: the path's last component names the directory used.
            let line = result.stdout.split(separator: "\n").first { $0.contains(" data.dir ") }
            let path = line?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first
            #expect(path.map { ($0 as NSString).lastPathComponent } == directory, "\(result.stdout)\(result.stderr)")
        }
    }

    @Test(arguments: Level.allCases)
    func policyCommandsReadThePoliciesServeWould(level: Level) throws {
        let layout = try Self.layout.get()
        var environment = layout.invocation(level).environment
        var arguments = level == .default ? [] : ["--config", "conf/enclave.yaml"]
        if level == .environment || level == .flag { environment["ENCLAVE_POLICIES"] = "env-policies" }
        if level == .flag { arguments += ["--policies", "flag-policies"] }
        try "providers:\n  - name: local\n    residency: on-prem\n".write(
            to: layout.root.appendingPathComponent("providers.yaml"), atomically: true, encoding: .utf8)
        let result = try EnclaveBinary.run(
            ["policy", "check", "--providers-file", "providers.yaml"] + arguments, environment: environment,
            in: layout.root)
        let rules = Level.allCases.firstIndex(of: level)! + 1
        #expect(result.stdout.contains(" \(rules) rules"), "\(level): \(result.stdout)\(result.stderr)")
    }

    @Test(arguments: Level.allCases)
    func serveUsesTheSameDataDirectory(level: Level) throws {
        let layout = try Self.layout.get()
        let (arguments, environment) = layout.invocation(level)
        let output = layout.root.appendingPathComponent("serve-\(level.rawValue).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = EnclaveBinary.url
        // The model: the pinned file, so the server starts without a models/ directory here.
        process.arguments =
            [
                "serve", "--listen", "127.0.0.1:0", "--model",
                EnclaveBinary.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path,
            ]
            + arguments
        process.currentDirectoryURL = layout.root
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var port = 0
        for _ in 0..<900 where process.isRunning && port == 0 {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening on 127.0.0.1:") }) {
                port = Int(line.split(separator: ":")[1].prefix(while: \.isNumber)) ?? 0
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        try #require(port > 0)
        let client = try ChatLoadClient(port: port)
        #expect(client.readBanner())
        let login = client.exchange("/login user-\(level.rawValue) password-of-\(level.rawValue)")
        #expect(login.final == "OK user=user-\(level.rawValue) role=staff", "\(login.lines)")
    }
}
