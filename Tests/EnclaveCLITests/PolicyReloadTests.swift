// Policy reload in the real `enclave serve`: a policy file corrupted on disk while serving refuses the
// external provider with `fail-closed:policy-invalid` and a reason naming the file:line (the change is
// noticed without any command); SIGHUP reloads, and the audit log shows every load and rejection as
// `policy.reload` with the trigger as actor and the SHA-256 of the set read (checked with `sha256sum`,
// an independent implementation); fixing the file allows the external provider again.
import Foundation
import Testing

/// A running `enclave serve` with a copy of `policies/` and an external provider on a loopback
/// address nobody listens on (enough for deciding; nothing is sent there).
final class PolicyServedDirectory {
    let directory: URL
    let policies: URL
    let process = Process()
    private(set) var port = 0
    private(set) var adminPassword = ""

    static let configuration = """
        providers:
          - name: local
            kind: local
            residency: on-prem
            model_path: models/SmolLM2-135M-Instruct.Q4_1.gguf
          - name: external-gpt
            kind: openai
            residency: external
            region: eu-west-1
            base_url: http://127.0.0.1:9/v1
            model: gpt-4o-mini
        routing:
          default: local
          prompts:
            default: assistant.v1

        """

    init() throws {
        let manager = FileManager.default
        directory = manager.temporaryDirectory.appendingPathComponent("enclave-policy-\(UUID().uuidString)")
        policies = directory.appendingPathComponent("policies")
        let root = EnclaveBinary.packageRoot
        for folder in ["models", "policies", "prompts"] {
            try manager.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        for folder in ["policies", "prompts"] {
            let source = root.appendingPathComponent(folder)
            for name in try manager.contentsOfDirectory(atPath: source.path) where name.contains(".") {
                try manager.copyItem(
                    at: source.appendingPathComponent(name),
                    to: directory.appendingPathComponent(folder).appendingPathComponent(name))
            }
        }
        let model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
        try manager.createSymbolicLink(
            at: directory.appendingPathComponent(model), withDestinationURL: root.appendingPathComponent(model))
        let config = directory.appendingPathComponent("enclave.yaml")
        try Self.configuration.write(to: config, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("serve.out")
        _ = manager.createFile(atPath: output.path, contents: nil)
        process.executableURL = EnclaveBinary.url
        process.arguments = [
            "serve", "--listen", "127.0.0.1:0", "--config", config.path, "--policies", policies.path,
            "--model", model,
        ]
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<600 where process.isRunning {
            let lines = ServedDirectory.lines(output)
            if let line = lines.first(where: { $0.contains("listening on 127.0.0.1:") }) {
                port = Int(line.split(separator: ":")[1].prefix(while: \.isNumber)) ?? 0
                if let index = lines.firstIndex(where: { $0.contains("one-time password") }), index + 1 < lines.count {
                    adminPassword = try FirstAdmin.claim(
                        port: port, printed: lines[index + 1].trimmingCharacters(in: .whitespaces))
                }
                return
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Runs `enclave chat` as the admin with `script`, waits for it, and returns its output lines.
    func chat(_ script: [String]) throws -> [String] {
        let client = Process()
        client.executableURL = EnclaveBinary.url
        client.arguments = ["chat", "--port", String(port), "--user", "admin"]
        let input = Pipe()
        let output = directory.appendingPathComponent("chat-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        client.standardInput = input
        client.standardOutput = try FileHandle(forWritingTo: output)
        client.standardError = FileHandle.nullDevice
        try client.run()
        input.fileHandleForWriting.write(Data(([adminPassword] + script + ["/quit"]).map { $0 + "\n" }.joined().utf8))
        try? input.fileHandleForWriting.close()
        client.waitUntilExit()
        return ServedDirectory.lines(output)
    }

    /// The `/models` verdict for the external provider (`allowed` or `denied:<rule>`).
    func externalVerdict() throws -> String? {
        // The fifth field of the row: `allowed` or `denied:<rule>`.
        try chat(["/models"]).first { $0.hasPrefix("= external-gpt\t") }?
            .split(separator: "\t", omittingEmptySubsequences: false).dropFirst(4).first.map(String.init)
    }

    /// Polls (up to 60 s) until `condition` holds.
    func waitFor(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<300 {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }

    /// The audit log's `policy.reload` records, as JSON objects.
    func reloadRecords() -> [[String: Any]] {
        let text =
            (try? String(contentsOf: directory.appendingPathComponent("data/audit/audit.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard line.contains("\"policy.reload\"") else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// `sha256sum` over the bytes the loader hashes: each `*.yaml` in name order, path NUL contents NUL.
    func policySHA256() throws -> String {
        var bytes = Data()
        let names = try FileManager.default.contentsOfDirectory(atPath: policies.path).filter { $0.hasSuffix(".yaml") }
        for name in names.sorted() {
            // File names relative to the directory: the hash does not change with how the path was typed.
            bytes += Data(name.utf8) + [0]
            bytes += try Data(contentsOf: policies.appendingPathComponent(name)) + [0]
        }
        let hasher = Process()
        hasher.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe()
        let output = Pipe()
        hasher.standardInput = input
        hasher.standardOutput = output
        try hasher.run()
        input.fileHandleForWriting.write(bytes)
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        hasher.waitUntilExit()
        return String(text.prefix(64))
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite(.serialized) struct PolicyReloadTests {
    @Test func aCorruptedPolicyRefusesExternalUntilFixedAndEveryReloadIsAudited() throws {
        let served = try PolicyServedDirectory()
        try #require(served.port > 0)
        let startSHA = try served.policySHA256()
        // The reload service is running (SIGHUP is trapped) once the start-up load is audited.
        #expect(served.waitFor { served.reloadRecords().contains { $0["actor"] as? String == "startup" } })
        let startup = try #require(served.reloadRecords().first)
        #expect(startup["subject"] as? String == startSHA)
        #expect(startup["outcome"] as? String == "ok")
        #expect(try served.externalVerdict() == "allowed")

        // Corrupt the rules on disk: the change is noticed and external providers are refused.
        let rules = served.policies.appendingPathComponent("20-rules.yaml")
        let good = try String(contentsOf: rules, encoding: .utf8)
        try (good + "  - name: [unclosed\n").write(to: rules, atomically: true, encoding: .utf8)
        let brokenSHA = try served.policySHA256()
        #expect(try served.waitFor { try served.externalVerdict() == "denied:fail-closed:policy-invalid" })
        let blocked = try served.chat(["/model external-gpt", "hello there"])
        let refusal = try #require(blocked.first { $0.hasPrefix("ERR policy-blocked") }, "\(blocked)")
        #expect(refusal.contains("rule=fail-closed:policy-invalid"), "\(refusal)")
        // Staff see the rule and the state, never policy file names and lines (those go to admins and the log).
        #expect(refusal.contains("fail-closed:policy-invalid") && !refusal.contains("20-rules.yaml"), "\(refusal)")
        #expect(try served.chat(["/models"]).contains { $0.hasPrefix("= local\t") && $0.contains("\tallowed\t") })

        // SIGHUP: the rejection is audited with the rejected set's SHA-256 and the trigger.
        kill(served.process.processIdentifier, SIGHUP)
        #expect(served.waitFor { served.reloadRecords().contains { $0["actor"] as? String == "sighup" } })
        let records = served.reloadRecords()
        let sighup = try #require(records.first { $0["actor"] as? String == "sighup" })
        #expect(sighup["outcome"] as? String == "failed")
        let subject = sighup["subject"] as? String ?? ""
        #expect(subject.hasPrefix("\(brokenSHA) serving=\(startSHA) error=20-rules.yaml:"), "\(subject)")
        let change = try #require(records.first { $0["actor"] as? String == "file-change" })
        #expect(change["outcome"] as? String == "failed")
        #expect((change["subject"] as? String)?.hasPrefix(brokenSHA) == true)
        #expect(served.process.isRunning)

        // Fix the file: allowed again, and the load is audited too.
        try good.write(to: rules, atomically: true, encoding: .utf8)
        #expect(try served.waitFor { try served.externalVerdict() == "allowed" })
        #expect(
            served.reloadRecords().contains {
                $0["actor"] as? String == "file-change" && $0["outcome"] as? String == "ok"
                    && $0["subject"] as? String == startSHA
            })
        served.process.terminate()
        served.process.waitUntilExit()
        #expect(served.process.terminationStatus == 0)
    }
}
