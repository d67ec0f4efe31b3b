// A ChatCore over real parts for the audit tests: a sealed Store (real SQLite) for conversations, the
// real hash-chained AuditLog on disk, the shipped policies, and the real
// ProviderGateway in front of the real OpenAI-compatible provider talking to a recording server on
// loopback, which keeps every request that reaches it.
// Accounts are in the Store (alice: staff, carol: compliance) with the test password scheme.
import Audit
import ChatCore
import ChatCoreTestSupport
import EnclaveCrypto
import EnclaveTestSupport
import Foundation
import Policy
import Routing
import Storage
import Synchronization

private let auditFixtureRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

struct AuditFixture {
    let directory: String
    let auditDirectory: String
    let log: AuditLog
    let macKey: SymmetricKey
    /// Stands in for the `vpc-llm` server: whatever it records is what left the process.
    let recorder: RecordingServer
    let core: ChatCore

    init() async throws {
        directory = NSTemporaryDirectory() + "enclave-chatcore-audit-\(UUID().uuidString)"
        auditDirectory = directory + "/audit"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try Store(path: directory + "/enclave.db", keyRing: try KeyRing(keys: [1: SymmetricKey.random()]))
        try await store.createUser(
            UserRecord(name: "alice", role: .staff, groups: [], passwordHash: "test:alice-password"))
        try await store.createUser(
            UserRecord(name: "carol", role: .compliance, groups: [], passwordHash: "test:carol-password"))
        let secrets = try AuditSecrets(root: SymmetricKey.random())
        macKey = secrets.mac
        log = try await AuditLog(directory: auditDirectory, macKey: secrets.mac, signer: secrets.signer)
        recorder = try await RecordingServer.start()
        let provider = try OpenAIProvider(
            info: ProviderInfo(name: "vpc-llm", residency: .vpc, region: nil, model: "recorder-model"),
            settings: OpenAIProviderSettings(
                baseURL: recorder.baseURL, apiKey: .none, connectTimeout: .seconds(5), readTimeout: .seconds(30),
                totalTimeout: .seconds(60), retries: 0, retryBackoff: .milliseconds(10)))
        let gateway = ProviderGateway(
            providers: [provider], defaultProvider: "vpc-llm", systemPrompt: "Answer briefly.",
            promptVersion: "assistant.v1")
        core = ChatCore(
            store: store, passwords: TestPasswords(),
            policy: PolicyDirectoryGate(directory: auditFixtureRoot + "/policies"), gateway: gateway, audit: log,
            configuration: ChatCore.Configuration())
    }

    func login(_ name: String) async throws -> Principal {
        try await core.login(name: name, password: "\(name)-password", origin: "192.0.2.7")
    }

    func send(_ text: String, conversation: String? = nil, as user: Principal) async throws(ChatFailure)
        -> SendSummary
    {
        try await core.send(
            text, conversation: conversation, requestedModel: nil, as: user, origin: "192.0.2.7", emit: { _ in })
    }

    /// Every record in the log, in order.
    func records() throws -> [AuditRecord] {
        try AuditReader.search(directory: auditDirectory, query: AuditQuery())
    }

    /// The raw bytes of every file in the audit directory.
    func auditBytes() throws -> [UInt8] {
        try FileManager.default.contentsOfDirectory(atPath: auditDirectory).flatMap { name -> [UInt8] in
            var isDirectory: ObjCBool = false
            let path = auditDirectory + "/" + name
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue
            else { return [] }
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    }

    /// Makes the next audit write fail: `audit.jsonl` is moved aside and a directory takes its name, so
    /// the writer's file no longer is the log (it checks before every write) and nothing can append there.
    func replaceLogWithDirectory() throws {
        let path = auditDirectory + "/" + AuditLog.logFileName
        try FileManager.default.moveItem(atPath: path, toPath: path + ".moved")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    /// How many chat requests reached the provider's server.
    var providerRequests: Int { recorder.completionRequests.count }

    /// Stops the recording server and deletes the files.
    func remove() {
        recorder.stopSoon()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs anywhere in these bytes.
    func contains(bytes needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if Array(self[start..<start + needle.count]) == needle { return true }
        }
        return false
    }
}
