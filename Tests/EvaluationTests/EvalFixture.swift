// Real parts behind the evaluation tests: a sealed Store (real SQLite) and the real hash-chained audit log
// in a temporary directory, the shipped policies, and OpenAI-compatible providers that are recording
// servers on loopback, scripted per question so each provider's right, wrong, slow and failing answers
// come in proportions the test chooses.
import Audit
import ChatCore
import ChatCoreTestSupport
import EnclaveCrypto
import EnclaveTestSupport
import Evaluation
import Foundation
import Policy
import Routing
import Storage
import Synchronization

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A scripted provider: its name, residency and prices, and the recorder that answers for it.
struct ScriptedProvider {
    let name: String
    let residency: Residency
    let inputPrice: Double
    let outputPrice: Double
    let recorder: RecordingServer

    /// The recorder answers each question by `rule` (the request body holds the question).
    static func start(
        _ name: String, _ residency: Residency, input: Double = 0, output: Double = 0,
        rule: @escaping @Sendable (String) -> RecorderBehaviour?
    ) async throws -> ScriptedProvider {
        let recorder = try await RecordingServer.start()
        recorder.setRule(rule)
        return ScriptedProvider(
            name: name, residency: residency, inputPrice: input, outputPrice: output, recorder: recorder)
    }

    func provider() throws -> OpenAIProvider {
        try OpenAIProvider(
            info: ProviderInfo(
                name: name, residency: residency, region: nil, model: "\(name)-model",
                pricing: Pricing(inputPerMillion: inputPrice, outputPerMillion: outputPrice)),
            settings: OpenAIProviderSettings(
                baseURL: recorder.baseURL, apiKey: .none, connectTimeout: .seconds(30), readTimeout: .seconds(60),
                totalTimeout: .seconds(120), retries: 0, retryBackoff: .milliseconds(10)))
    }
}

struct EvalFixture {
    let directory: String
    let store: Store
    let log: AuditLog
    let policy: PolicyDirectoryGate
    let providers: [ScriptedProvider]
    let gateway: ProviderGateway

    init(_ providers: [ScriptedProvider], canary: CanaryConfiguration? = nil, policies: String? = nil) async throws {
        directory = NSTemporaryDirectory() + "enclave-eval-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try Store(path: directory + "/enclave.db", keyRing: try KeyRing(keys: [1: SymmetricKey.random()]))
        let secrets = try AuditSecrets(root: SymmetricKey.random())
        log = try await AuditLog(directory: directory + "/audit", macKey: secrets.mac, signer: secrets.signer)
        policy = PolicyDirectoryGate(directory: policies ?? repositoryRoot + "/policies")
        self.providers = providers
        // Breakers off (a zero cool-down), as `enclave eval run` has them: every item reaches its provider.
        gateway = ProviderGateway(
            providers: try providers.map { try $0.provider() }, defaultProvider: providers.first?.name ?? "none",
            systemPrompt: "Answer briefly.", promptVersion: "assistant.v1", canary: canary,
            health: ProviderHealth(settings: .init(base: .zero, maximum: .zero, threshold: Int.max)))
    }

    func runner(_ options: EvalOptions) -> EvalRunner {
        EvalRunner(
            store: store, policy: policy, gateway: gateway, audit: log,
            options: options)
    }

    /// A live chat core over this fixture's store, policy and audit log, serving through `gateway`, with a
    /// budget no test reaches.
    func chatCore(gateway: ProviderGateway) -> ChatCore {
        var configuration = ChatCore.Configuration()
        configuration.budget = UserLimiter.Budget(messagesPerMinute: 10_000, burst: 10_000)
        return ChatCore(
            store: store, passwords: TestPasswords(), policy: policy, gateway: gateway, audit: log,
            configuration: configuration)
    }

    /// Every record of the audit log, oldest first.
    func records() async throws -> [AuditRecord] {
        var records: [AuditRecord] = []
        try AuditReader.forEachRecord(directory: log.directory) { record, _ in records.append(record) }
        return records
    }

    func close() async {
        try? await log.close()
        for provider in providers { try? await provider.recorder.stop() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A reply of one piece (one completion token at the recorder).
func answer(_ text: String) -> RecorderBehaviour { .reply([text]) }

/// An in-process provider that answers "ok" after 50 ms and remembers the most calls it had in flight.
final class CountingProvider: ChatProvider {
    let info = ProviderInfo(name: "counting", residency: .onPrem, model: "counting")
    private let counts = Mutex((now: 0, maximum: 0))
    /// Each call is held until this many have been in flight at once (or 20 s have passed): on a starved
    /// machine the calls can reach the provider further apart than any fixed hold, and never overlap.
    let holdUntil: Int

    init(holdUntil: Int) {
        self.holdUntil = holdUntil
    }

    var maximumInFlight: Int { counts.withLock { $0.maximum } }

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
        AsyncThrowingStream { [holdUntil] continuation in
            let task = Task {
                counts.withLock {
                    $0.now += 1
                    $0.maximum = max($0.maximum, $0.now)
                }
                let deadline = ContinuousClock.now + .seconds(20)
                while counts.withLock({ $0.maximum < holdUntil }) && ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(50))
                }
                // A runner that let more in than its limit shows it here: a further call arrives while
                // these are still held.
                try? await Task.sleep(for: .milliseconds(50))
                counts.withLock { $0.now -= 1 }
                continuation.yield(.text("ok"))
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func health() async -> Bool { true }
}
