// A running `enclave serve` whose only providers are two recording OpenAI-compatible servers on
// loopback (one `vpc`, one `external`), with a test policy and its data directory on /dev/shm when
// that exists (the server syncs every commit; tmpfs keeps thousands of messages fast). It can be
// stopped (SIGTERM) and started again on the same data directory, as an operator restarts it.
import EnclaveClient
import EnclaveTestSupport
import Foundation

final class LeakServer {
    let directory: URL
    let vpc: RecordingServer
    let external: RecordingServer
    private var process: Process?
    private var starts = 0
    private(set) var port = 0

    /// The policy: tags `pii`/`pci` from cards, SSNs and IBANs; tagged conversations may use `tagged`.
    static func policy(taggedResidency: String) -> String {
        """
        version: 1
        tags:
          pii: {description: personal identifiers, detectors: [us-ssn]}
          pci: {description: card and bank data, detectors: [credit-card, iban]}
        rules:
          - name: untagged-anywhere
            when: {untagged: true}
            allow: {residency: [on-prem, vpc, external]}
          - name: tagged-inside
            when: {tags: {any: [pii, pci]}}
            allow: {residency: [\(taggedResidency)]}

        """
    }

    /// Creates the directory (config, policy, prompt) and `users` (staff, password `<name>-password`).
    init(users: [String], taggedResidency: String, readTimeoutMs: Int = 400, cooldownMs: Int = 20) async throws {
        let base =
            FileManager.default.fileExists(atPath: "/dev/shm")
            ? URL(fileURLWithPath: "/dev/shm")
            : FileManager.default.temporaryDirectory
        directory = base.appendingPathComponent("enclave-leak-\(UUID().uuidString)")
        let manager = FileManager.default
        for sub in ["policies", "prompts"] {
            try manager.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try Self.policy(taggedResidency: taggedResidency).write(
            to: directory.appendingPathComponent("policies/policy.yaml"), atomically: true, encoding: .utf8)
        try manager.copyItem(
            at: EnclaveBinary.packageRoot.appendingPathComponent("prompts/assistant.v1.txt"),
            to: directory.appendingPathComponent("prompts/assistant.v1.txt"))
        vpc = try await RecordingServer.start()
        external = try await RecordingServer.start()
        func provider(_ name: String, _ residency: String, _ server: RecordingServer) -> String {
            """
              - name: \(name)
                kind: openai
                residency: \(residency)
                base_url: \(server.baseURL)
                model: \(name)-model
                timeouts: {connect_ms: 1000, read_ms: \(readTimeoutMs), total_ms: 10000}
                retries: 1
                price: {input_per_million: 1, output_per_million: 2}

            """
        }
        let configuration =
            "limits:\n  messages_per_minute: 1000000\n  message_burst: 1000000\n  max_tokens: 16\n"
            + "providers:\n" + provider("vpc-llama", "vpc", vpc) + provider("external-gpt", "external", external)
            + "routing:\n  default: vpc-llama\n  prompts: {default: assistant.v1}\n"
            + "  health: {cooldown_ms: \(cooldownMs), max_cooldown_ms: \(cooldownMs * 5), failures: 3}\n"
        try configuration.write(
            to: directory.appendingPathComponent("enclave.yaml"), atomically: true, encoding: .utf8)
        for user in users {
            let added = try EnclaveBinary.run(
                ["users", "add", user, "--role", "staff", "--permanent"], stdin: "\(user)-password\n", in: directory)
            guard added.status == 0 else { throw LineClientError(description: "users add: \(added.stderr)") }
        }
    }

    /// Starts the server and waits (up to 60 s) until it listens.
    func start() throws {
        starts += 1
        let output = directory.appendingPathComponent("serve-\(starts).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = EnclaveBinary.url
        process.arguments = [
            "serve", "--listen", "127.0.0.1:0", "--config", "enclave.yaml", "--policies", "policies",
        ]
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<600 where process.isRunning {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening on 127.0.0.1:") }) {
                port = Int(line.split(separator: ":")[1].prefix(while: \.isNumber)) ?? 0
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw LineClientError(description: "enclave serve did not start: \(text(of: output))")
    }

    private func text(of url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard let process else { return 0 }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
        return process.terminationStatus
    }

    /// A logged-in client.
    static func client(port: Int, user: String) throws -> LineClient {
        let client = try LineClient(port: port)
        try client.readBanner()
        let login = try client.exchange("/login \(user) \(user)-password")
        guard login.last?.hasPrefix("OK") == true else { throw LineClientError(description: "\(login)") }
        return client
    }

    /// The audit log's records (JSON lines).
    var auditLines: [String] {
        text(of: directory.appendingPathComponent("data/audit/audit.jsonl")).split(separator: "\n").map(String.init)
    }

    func close() async {
        stop()
        try? await vpc.stop()
        try? await external.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
