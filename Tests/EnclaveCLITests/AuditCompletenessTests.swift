// The audit log over the real `enclave serve` binary: a scripted session on a loopback socket performs
// every audited action (logins good and bad, lock-out, logout, a chat message to the real local model,
// a policy-blocked `/model` request, deletion, a forbidden `/audit`, `/audit search`, break-glass,
// `/reload` good and rejected; `enclave keys init`, `users add|passwd|disable` beside the running
// server), the master key is rotated between two server runs, and then the log
// must hold every expected record with its fields, hold none of the canary strings the messages
// carried (in any audit file or export, as UTF-8, base64 or hex), verify with secrets and offline
// with only the exported public key, and fail on a tampered copy naming the record.
import EnclaveClient
import EnclaveTestSupport
import Foundation
import Testing

/// One run of `enclave serve` in `directory` (which holds `data/`, `policies/`, `models/`).
private final class AuditServer {
    let process = Process()
    private(set) var port = 0
    private(set) var adminPassword = ""

    init(directory: URL, run: Int) throws {
        let output = directory.appendingPathComponent("serve-\(run).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = EnclaveBinary.url
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--config", "enclave.yaml"]
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<600 where process.isRunning {
            let lines = ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n")
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
        throw CocoaError(.fileReadUnknown)
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    deinit { if process.isRunning { stop() } }
}

private let configuration = """
    limits:
      max_tokens: 4
      lockout_failures: 3
    providers:
      - name: local
        kind: local
        residency: on-prem
        model_path: models/SmolLM2-135M-Instruct.Q4_1.gguf
      - name: external-gpt
        kind: openai
        residency: external
        base_url: http://127.0.0.1:9/v1
        model: gpt-test
    routing:
      default: local
      prompts:
        default: assistant.v1

    """

/// A client connected to the server under test, its banner read; the model's replies may take a while.
private func connectedClient(port: Int) throws -> LineClient {
    let client = try LineClient(port: port, timeout: .seconds(120))
    try client.readBanner()
    return client
}

@Suite(.serialized) struct AuditCompletenessTests {
    @Test func aScriptedSessionLeavesEveryRecordNoContentAndAVerifiableLog() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-audit-complete-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try prepare(directory)
        let canaries = (1...4).map { "zq\($0)canary\(UUID().uuidString.prefix(8).lowercased())" }
        func enclave(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
            try EnclaveBinary.run(arguments, stdin: stdin, in: directory)
        }

        // Before the first start: the key, then the accounts.
        #expect(try enclave(["keys", "init", "--key-file", "data/master.key"]).status == 0)
        for (name, role) in [("alice", "staff"), ("bob", "staff"), ("carol", "compliance")] {
            let added = try enclave(
                ["users", "add", name, "--role", role, "--permanent"], stdin: "\(name)-password-long\n")
            #expect(added.status == 0, "\(added.stderr)")
        }

        let server = try AuditServer(directory: directory, run: 1)
        let alice = try connectedClient(port: server.port)
        #expect(try alice.final("/login alice not-her-password").hasPrefix("ERR auth-failed"))
        #expect(try alice.final("/login alice alice-password-long").hasPrefix("OK"))
        let reply = try alice.exchange("Please remember \(canaries[0]) for later.")
        let first = try #require(reply.last.flatMap(Self.conversation), "\(reply)")
        #expect(try alice.final("/new").hasPrefix("OK conversation="))
        #expect(try alice.final("/tag phi").hasPrefix("OK"))
        #expect(try alice.final("/model external-gpt").hasPrefix("OK"))
        #expect(try alice.final("Send \(canaries[1]) outside please.").hasPrefix("ERR policy-blocked"))
        let third = try #require(try alice.final("/new").split(separator: "=").last.map(String.init))
        #expect(try alice.final("/model local").hasPrefix("OK"))
        #expect(try alice.final("Here is \(canaries[2]) to forget.").hasPrefix("OK conversation="))
        #expect(try alice.final("/delete \(third)") == "OK deleted=\(third)")
        #expect(try alice.final("/audit search").hasPrefix("ERR forbidden"))
        #expect(try alice.final("/logout").hasPrefix("OK"))

        let bob = try connectedClient(port: server.port)
        for _ in 0..<3 {
            #expect(try bob.final("/login bob wrong-password-\(canaries[3])").hasPrefix("ERR auth-failed"))
        }
        #expect(try bob.final("/login bob bob-password-long").hasPrefix("ERR locked-out"))

        let carol = try connectedClient(port: server.port)
        #expect(try carol.final("/login carol carol-password-long").hasPrefix("OK"))
        #expect(try carol.final("/audit search action=auth.").hasPrefix("OK rows="))
        let opened = try carol.exchange("/audit open \(first) patient complaint ref 4471, reviewing the advice given")
        #expect(opened.last?.hasPrefix("OK conversation=\(first)") == true, "\(opened)")
        #expect(opened.contains { $0.hasPrefix("= ") && $0.contains(canaries[0]) })

        let admin = try connectedClient(port: server.port)
        #expect(try admin.final("/login admin \(server.adminPassword)").hasPrefix("OK"))
        #expect(try admin.final("/reload").hasPrefix("OK policy="))
        let broken = directory.appendingPathComponent("policies/99-broken.yaml")
        try "version: 1\nrules: [oops\n".write(to: broken, atomically: true, encoding: .utf8)
        #expect(try admin.final("/reload").hasPrefix("ERR bad-arguments"))
        try FileManager.default.removeItem(at: broken)
        #expect(try enclave(["users", "passwd", "alice"], stdin: "alice-password-new\n").status == 0)
        #expect(try enclave(["users", "disable", "bob"]).status == 0)
        server.stop()

        // Rotate the master key between runs; the audit public key must not change.
        let publicKeyBefore = try enclave(["audit", "pubkey"]).stdout
        let rotated = try enclave(["keys", "rotate"])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("re-wrapped the audit root key"))
        #expect(try enclave(["audit", "pubkey"]).stdout == publicKeyBefore)
        let second = try AuditServer(directory: directory, run: 2)
        let again = try connectedClient(port: second.port)
        #expect(try again.final("/login alice alice-password-new").hasPrefix("OK"))
        #expect(try again.final("/quit").hasPrefix("OK"))
        second.stop()

        let records = try Self.records(try enclave(["audit", "search", "--json"]).stdout)
        try checkExpectedRecords(records, first: first, third: third)
        try checkNoCanary(canaries, directory: directory, enclave: enclave)
        try checkVerification(directory: directory, enclave: enclave)
    }

    // MARK: - The checks

    private func checkExpectedRecords(_ records: [[String: Any]], first: String, third: String) throws {
        func has(_ action: String, _ fields: [String: String]) -> Bool {
            records.contains { record in
                record["action"] as? String == action
                    && fields.allSatisfy { key, value in "\(record[key] ?? "")" == value }
            }
        }
        #expect(has("user.create", ["subject": "admin"]))
        #expect(has("auth.login", ["actor": "alice", "outcome": "failed"]))
        #expect(has("auth.login", ["actor": "alice", "outcome": "ok"]))
        #expect(has("auth.logout", ["actor": "alice"]))
        #expect(has("auth.login", ["actor": "bob", "outcome": "failed"]))
        #expect(has("auth.lockout", ["actor": "bob"]))
        #expect(has("auth.login", ["actor": "bob", "outcome": "locked-out"]))
        #expect(has("model.decision", ["actor": "alice", "decision": "allowed", "provider": "local"]))
        #expect(has("model.decision", ["actor": "alice", "decision": "denied", "error": "policy-blocked"]))
        #expect(has("conversation.delete", ["actor": "alice", "subject": "conversation:\(third)"]))
        #expect(has("access.denied", ["actor": "alice", "subject": "command:audit", "outcome": "forbidden"]))
        #expect(has("audit.query", ["actor": "carol", "role": "compliance"]))
        #expect(has("audit.break-glass", ["actor": "carol", "subject": "conversation:\(first)"]))
        #expect(has("policy.reload", ["actor": "admin", "outcome": "ok"]))
        #expect(has("policy.reload", ["actor": "admin", "outcome": "failed"]))
        let glass = records.first { $0["action"] as? String == "audit.break-glass" }
        #expect((glass?["detail"] as? String)?.hasPrefix("reason-hmac=hmac:") == true)
        let calls = records.filter { $0["action"] as? String == "model.call" }
        #expect(calls.count == 2)
        for call in calls {
            for field in ["model_id", "prompt_version", "provider", "residency", "decision", "rule"] {
                #expect(!((call[field] as? String) ?? "").isEmpty, "model.call without \(field): \(call)")
            }
            for field in ["tokens_in", "tokens_out", "total_ms"] {
                #expect(call[field] is NSNumber, "model.call without \(field): \(call)")
            }
            #expect(call["provider"] as? String == "local" && call["residency"] as? String == "on-prem")
            #expect(call["prompt_version"] as? String == "assistant.v1")
        }
        let blocked = records.first {
            $0["action"] as? String == "model.decision" && $0["decision"] as? String == "denied"
        }
        let blockedRule = blocked?["rule"] as? String
        #expect(blockedRule?.isEmpty == false)
        // Every record's origin is a keyed HMAC, never the address.
        #expect(records.allSatisfy { ($0["origin"] as? String).map { $0 == "-" || $0.hasPrefix("hmac:") } ?? true })
        // Operator commands run beside the server write the same log, as the OS account that ran them.
        #expect(has("key.init", ["role": "operator", "subject": "master-key-version=1"]))
        #expect(has("user.create", ["subject": "alice", "role": "operator", "detail": "role=staff"]))
        #expect(has("user.create", ["subject": "carol", "detail": "role=compliance"]))
        #expect(has("user.password", ["subject": "alice", "role": "operator"]))
        #expect(has("user.disable", ["subject": "bob", "role": "operator"]))
        #expect(has("key.rotate", ["role": "operator", "subject": "master-key-version=1"]))
        #expect(
            records.filter { $0["role"] as? String == "operator" }.allSatisfy {
                ($0["actor"] as? String)?.hasPrefix("os:") == true
            })
        // Sequence numbers run 1...n without a gap although two processes wrote.
        #expect(records.compactMap { ($0["seq"] as? NSNumber)?.intValue } == Array(1...records.count))
    }

    private func checkNoCanary(
        _ canaries: [String], directory: URL, enclave: ([String], String?) throws -> CommandResult
    ) throws {
        let audit = directory.appendingPathComponent("data/audit")
        var haystacks: [(String, [UInt8])] = try FileManager.default.contentsOfDirectory(atPath: audit.path).map {
            ($0, Array(try Data(contentsOf: audit.appendingPathComponent($0))))
        }
        for format in ["jsonl", "csv"] {
            let exported = try enclave(["audit", "export", "--format", format], nil)
            #expect(exported.status == 0 && exported.stdout.count > 100)
            haystacks.append(("export.\(format)", Array(exported.stdout.utf8)))
        }
        #expect(haystacks.contains { $0.0 == "audit.jsonl" } && haystacks.contains { $0.0 == "checkpoints.jsonl" })
        for canary in canaries {
            for needle in Self.encodings(of: canary) {
                for (name, bytes) in haystacks {
                    #expect(!Self.contains(bytes, Array(needle.utf8)), "\(name) holds canary \(canary) as \(needle)")
                }
            }
        }
    }

    private func checkVerification(
        directory: URL, enclave: ([String], String?) throws -> CommandResult
    ) throws {
        let full = try enclave(["audit", "verify"], nil)
        #expect(full.status == 0 && full.stdout.contains("OK audit log verifies"), "\(full.stdout)\(full.stderr)")
        let offline = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-audit-offline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: offline) }
        try FileManager.default.createDirectory(
            at: offline.appendingPathComponent("copy"), withIntermediateDirectories: true)
        let publicKey = offline.appendingPathComponent("audit.pub")
        #expect(try enclave(["audit", "pubkey", "--out", publicKey.path], nil).status == 0)
        for name in ["audit.jsonl", "checkpoints.jsonl"] {
            try FileManager.default.copyItem(
                at: directory.appendingPathComponent("data/audit/\(name)"),
                to: offline.appendingPathComponent("copy/\(name)"))
        }
        let arguments = [
            "audit", "verify", "--dir", offline.appendingPathComponent("copy").path, "--pubkey", publicKey.path,
        ]
        let good = try EnclaveBinary.run(arguments, in: offline)
        #expect(good.status == 0 && good.stdout.contains("check: offline"), "\(good.stdout)\(good.stderr)")
        // Tamper with the copy: one space added inside record 3.
        let log = offline.appendingPathComponent("copy/audit.jsonl")
        var lines = try String(contentsOf: log, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        try #require(lines.count > 3)
        lines[2] = Substring(lines[2].replacingOccurrences(of: "\"seq\":3,", with: "\"seq\":3, "))
        try lines.joined(separator: "\n").write(to: log, atomically: true, encoding: .utf8)
        let bad = try EnclaveBinary.run(arguments, in: offline)
        #expect(bad.status == 1 && bad.stdout.contains("FAIL audit.jsonl line 3"), "\(bad.stdout)\(bad.stderr)")
    }

    // MARK: - Helpers

    private func prepare(_ directory: URL) throws {
        let manager = FileManager.default
        try manager.createDirectory(at: directory.appendingPathComponent("models"), withIntermediateDirectories: true)
        try manager.createDirectory(
            at: directory.appendingPathComponent("data"), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try manager.createSymbolicLink(
            at: directory.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
            withDestinationURL: EnclaveBinary.packageRoot.appendingPathComponent(
                "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        try manager.createDirectory(at: directory.appendingPathComponent("policies"), withIntermediateDirectories: true)
        let policies = EnclaveBinary.packageRoot.appendingPathComponent("policies")
        for name in try manager.contentsOfDirectory(atPath: policies.path) where name.hasSuffix(".yaml") {
            try manager.copyItem(
                at: policies.appendingPathComponent(name), to: directory.appendingPathComponent("policies/\(name)"))
        }
        try manager.copyItem(
            at: EnclaveBinary.packageRoot.appendingPathComponent("prompts"),
            to: directory.appendingPathComponent("prompts"))
        try configuration.write(to: directory.appendingPathComponent("enclave.yaml"), atomically: true, encoding: .utf8)
    }

    private static func conversation(_ final: String) -> String? {
        final.split(separator: " ").first { $0.hasPrefix("conversation=") }.map { String($0.dropFirst(13)) }
    }

    private static func records(_ jsonLines: String) throws -> [[String: Any]] {
        try jsonLines.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The canary as UTF-8, lower- and upper-case hex, and base64 at each of the three alignments.
    private static func encodings(of canary: String) -> [String] {
        let bytes = Array(canary.utf8)
        var out = [
            canary, bytes.map { String(format: "%02x", $0) }.joined(),
            bytes.map { String(format: "%02X", $0) }.joined(),
        ]
        for shift in 0..<3 {
            let encoded = Data([UInt8](repeating: 0x20, count: shift) + bytes).base64EncodedString()
            let skip = shift == 0 ? 0 : 4
            out.append(String(encoded.dropFirst(skip).dropLast(4)))
        }
        return out
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }
}
