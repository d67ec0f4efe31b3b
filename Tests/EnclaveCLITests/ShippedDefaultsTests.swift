// The shipped defaults are the product: these tests start `enclave serve` from a copy of exactly the files
// the repository ships (deploy/, policies/, prompts/ and the pinned model), with no flag but a free port,
// as `make run` does, and chat through it as a newcomer would. If deploy/enclave.yaml, a policy or a
// prompt stops a first question from being answered, these tests fail.
import EnclaveClient
import EnclaveTestSupport
import Foundation
import Testing

/// A copy of the repository's shipped files in a temporary directory, served as `make run` serves them.
final class ShippedCopy {
    let directory: URL
    let process = Process()
    private(set) var port = 0
    private(set) var adminPassword = ""
    private(set) var printed = ""

    /// Copies deploy/, policies/ and prompts/, links models/<pinned>.gguf, then lets `edit` change the
    /// copied configuration text before the server starts.
    init(editConfiguration edit: (String) -> String = { $0 }) throws {
        let manager = FileManager.default
        directory = manager.temporaryDirectory.appendingPathComponent("enclave-shipped-\(UUID().uuidString)")
        try manager.createDirectory(at: directory.appendingPathComponent("models"), withIntermediateDirectories: true)
        for folder in ["deploy", "policies", "prompts"] {
            try manager.copyItem(
                at: EnclaveBinary.packageRoot.appendingPathComponent(folder),
                to: directory.appendingPathComponent(folder))
        }
        let model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
        try manager.createSymbolicLink(
            at: directory.appendingPathComponent(model),
            withDestinationURL: EnclaveBinary.packageRoot.appendingPathComponent(model))
        let configuration = directory.appendingPathComponent("deploy/enclave.yaml")
        try edit(try String(contentsOf: configuration, encoding: .utf8)).write(
            to: configuration, atomically: true, encoding: .utf8)
    }

    /// Starts `enclave serve --listen 127.0.0.1:0` in the copy and waits (up to 90 s) until it listens.
    func start() throws {
        let output = directory.appendingPathComponent("serve.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = EnclaveBinary.url
        process.arguments = ["serve", "--listen", "127.0.0.1:0"]
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        for name in ["ENCLAVE_CONFIG", "ENCLAVE_DATA_DIR", "ENCLAVE_MODEL", "ENCLAVE_MODEL_DIR", "ENCLAVE_POLICIES"] {
            environment[name] = nil
        }
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<900 where process.isRunning {
            printed = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            let lines = printed.split(separator: "\n").map(String.init)
            if let line = lines.first(where: { $0.contains("listening on 127.0.0.1:") }) {
                port = Int(line.split(separator: ":")[1].prefix(while: \.isNumber)) ?? 0
                if let index = lines.firstIndex(where: { $0.contains("one-time password") }), index + 1 < lines.count {
                    adminPassword = lines[index + 1].trimmingCharacters(in: .whitespaces)
                }
                return
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw LineClientError(description: "serve did not listen: \(printed)")
    }

    /// Logs in as the admin with the printed one-time password, which opens one session without the
    /// admin's privileges and asks for a new password, and sets one.
    func adminSession() throws -> ChatLoadClient {
        let client = try ChatLoadClient(port: port)
        #expect(client.readBanner())
        let login = client.exchange("/login admin \(adminPassword)")
        #expect(login.final?.hasPrefix("OK user=admin role=admin") == true, "\(login.lines)")
        #expect(login.lines.contains { $0.hasPrefix("* ") && $0.contains("/passwd") }, "\(login.lines)")
        #expect(client.exchange("/reload").final?.hasPrefix("ERR forbidden choose your own password") == true)
        let chosen = "chosen-" + UUID().uuidString.prefix(8)
        #expect(client.exchange("/passwd \(adminPassword) \(chosen)").final == "OK password changed")
        #expect(client.exchange("/reload").final?.hasPrefix("OK policy=") == true)
        return client
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite(.serialized) struct ShippedDefaultsTests {
    static let card = "Please check card 4111 1111 1111 1111 06/31 for the refund."

    @Test func theShippedFilesAnswerAFirstQuestionLocallyAndKeepACardOnPremises() throws {
        let shipped = try ShippedCopy()
        defer { shipped.stop() }
        try shipped.start()
        #expect(shipped.adminPassword.count == 20, "\(shipped.printed)")
        // The server says which model answers, and that the pinned one is only a demonstration.
        #expect(shipped.printed.contains("demonstration model"), "\(shipped.printed)")
        #expect(
            FileManager.default.fileExists(atPath: shipped.directory.appendingPathComponent("data/enclave.db").path))

        let client = try shipped.adminSession()
        // The printed password opened its one session: it logs in no more.
        let again = try ChatLoadClient(port: shipped.port)
        #expect(again.readBanner())
        #expect(again.exchange("/login admin \(shipped.adminPassword)").final?.hasPrefix("ERR auth-failed") == true)
        let answer = client.exchange("What is the capital of France?")
        #expect(answer.lines.first?.hasPrefix("* provider=local residency=on-prem") == true, "\(answer.lines)")
        #expect(answer.lines.contains { $0.hasPrefix("> ") && $0.count > 2 }, "\(answer.lines)")
        #expect(answer.final?.hasPrefix("OK conversation=") == true && answer.final?.contains("provider=local") == true)

        #expect(client.exchange("/new").final?.hasPrefix("OK conversation=") == true)
        let carded = client.exchange(Self.card)
        #expect(carded.final?.contains("provider=local") == true, "\(carded.lines)")
        let tags = client.exchange("/tags")
        #expect(tags.lines.contains("= pci"), "\(tags.lines)")
    }

    @Test func withAnExternalProviderAddedTheCardNeverLeaves() async throws {
        let recorder = try await RecordingServer.start()
        defer { recorder.stopSoon() }
        recorder.setDefault(.reply(["Paris", "."]))
        let external = """
              - name: external-gpt
                kind: openai
                residency: external
                base_url: \(recorder.baseURL)
                model: gpt-test
                timeouts: {connect_ms: 2000, read_ms: 30000, total_ms: 60000}
                retries: 0

            routing:
            """
        let shipped = try ShippedCopy { text in
            text.replacingOccurrences(of: "\nrouting:", with: "\n" + external, options: [], range: nil)
        }
        defer { shipped.stop() }
        try shipped.start()
        let client = try shipped.adminSession()

        // An untagged question may go out when the user picks the external provider.
        #expect(client.exchange("/model external-gpt").final?.hasPrefix("OK model=external-gpt") == true)
        let untagged = client.exchange("What is the capital of France?")
        #expect(untagged.final?.contains("provider=external-gpt") == true, "\(untagged.lines)")
        #expect(recorder.completionRequests.count == 1)

        // A card number in a new conversation: blocked for the external provider, answered nowhere else
        // unless the user goes back to the local model, and not one digit of it reaches the recorder.
        #expect(client.exchange("/new").final?.hasPrefix("OK conversation=") == true)
        let carded = client.exchange(Self.card)
        #expect(carded.final?.hasPrefix("ERR policy-blocked") == true, "\(carded.lines)")
        #expect(client.exchange("/model local").final?.hasPrefix("OK model=local") == true)
        let local = client.exchange(Self.card)
        #expect(local.final?.contains("provider=local") == true, "\(local.lines)")
        let sent = recorder.completionRequests.map(\.body).joined()
        #expect(!sent.contains("4111"), "the card reached the external provider")
        #expect(recorder.completionRequests.count == 1)
    }
}
