import EnclaveCrypto
import EnclaveTestSupport
// Shared fixtures for the Audit tests: fresh temporary directories, fixed test keys, and a seeded
// generator of realistic events (security events and model calls), so every run sees the same log.
import Foundation

@testable import Audit

/// A new empty directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "audit") throws {
        path = NSTemporaryDirectory() + "enclave-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Fixed keys so failures reproduce; a real server derives these from the master key.
enum TestKeys {
    static func master() throws -> SymmetricKey { try SymmetricKey(bytes: (0..<32).map { UInt8($0) }) }
    static func keys() throws -> AuditKeys { try AuditKeys(master: master()) }
}

enum SampleEvents {
    static let users = ["alice", "bob", "carol", "dave"]
    static let providers = [("local", "on-prem", "SmolLM2-135M-Instruct-Q4_1"), ("azure", "external", "gpt-4o")]

    /// Event `index` of a seeded stream: mostly model calls, with logins and failures mixed in.
    static func event(_ index: Int, using random: inout SplitMix64) -> AuditEvent {
        let user = users.randomElement(using: &random)!
        let time = UTCMillis(1_795_923_600_000 + Int64(index) * 1000)
        let origin = "10.0.0.\(Int.random(in: 1...254, using: &random))"
        switch Int.random(in: 0..<10, using: &random) {
        case 0: return AuditEvent(time: time, actor: user, role: "staff", origin: origin, action: AuditAction.login)
        case 1:
            return AuditEvent(
                time: time, actor: "-", role: "-", origin: origin, action: AuditAction.loginFailure,
                subject: user, outcome: "auth-failed")
        default:
            let (provider, residency, model) = providers.randomElement(using: &random)!
            let tokensIn = Int.random(in: 10...2000, using: &random)
            let tokensOut = Int.random(in: 1...500, using: &random)
            return AuditEvent(
                time: time, actor: user, role: "staff", origin: origin, action: AuditAction.modelCall,
                subject: "c\(Int.random(in: 1...99, using: &random))",
                call: ModelCallFields(
                    modelID: model, promptVersion: "default.v\(Int.random(in: 1...2, using: &random))",
                    provider: provider, residency: residency,
                    canaryArm: Bool.random(using: &random) ? "control" : nil, decision: "allowed",
                    rule: "untagged-any", tags: Bool.random(using: &random) ? ["finance"] : [],
                    detectorCounts: ["iban": Int.random(in: 0...2, using: &random)], tokensIn: tokensIn,
                    tokensOut: tokensOut, ttftMs: 120, totalMs: 900 + index % 100, costMicros: tokensIn + 2 * tokensOut)
            )
        }
    }

    static func events(_ count: Int, seed: UInt64) -> [AuditEvent] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { event($0, using: &random) }
    }
}

/// Opens a log in `directory` with the test keys.
func openTestLog(_ directory: String, every: Int = 1000, command: [String]? = nil) async throws -> AuditLog {
    let keys = try TestKeys.keys()
    let signer = try AuditSigningKey.loadOrCreate(directory: directory, sealingKey: keys.signingSeal)
    return try await AuditLog(
        directory: directory, macKey: keys.mac, signer: signer,
        configuration: .init(checkpointEvery: every, checkpointInterval: .seconds(3600), checkpointCommand: command))
}

/// The public key of the signing key stored in `directory`.
func testPublicKey(_ directory: String) throws -> Ed25519PublicKey {
    try AuditSigningKey.loadOrCreate(directory: directory, sealingKey: TestKeys.keys().signingSeal).publicKey
}
