import EnclaveCrypto
// A log written by AuditLog must be byte for byte the golden file in Fixtures/, which an independent
// Python check (Fixtures/check_golden.py: hashlib, hmac and its own RFC 5869 HKDF) accepted: the
// chain links, every record MAC under HKDF(master, "enclave/audit/mac/v1") and every origin pseudonym.
import Foundation
import Testing

@testable import Audit

@Suite struct GoldenLogTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The events of the golden log (fixed times; the master key is 32 bytes of 0x11).
    static let events: [AuditEvent] = [
        AuditEvent(
            time: UTCMillis(1_795_923_600_000), actor: "alice", role: "staff", origin: "192.0.2.10",
            action: AuditAction.login),
        AuditEvent(
            time: UTCMillis(1_795_923_601_000), actor: "alice", role: "staff", origin: "192.0.2.10",
            action: AuditAction.modelDecision, subject: "c1",
            call: ModelCallFields(
                modelID: "SmolLM2-135M-Instruct-Q4_1", promptVersion: "default.v1",
                provider: "local", residency: "on-prem", canaryArm: "control",
                decision: "allowed", rule: "phi-on-prem", tags: ["phi"],
                detectorCounts: ["nhs": 1])),
        AuditEvent(
            time: UTCMillis(1_795_923_602_500), actor: "alice", role: "staff", origin: "192.0.2.10",
            action: AuditAction.modelCall, subject: "c1",
            call: ModelCallFields(
                modelID: "SmolLM2-135M-Instruct-Q4_1", promptVersion: "default.v1",
                provider: "local", residency: "on-prem", canaryArm: "control",
                decision: "allowed", rule: "phi-on-prem", tags: ["phi"],
                detectorCounts: ["nhs": 1], tokensIn: 412, tokensOut: 57, ttftMs: 88,
                totalMs: 1234, costMicros: 0)),
        AuditEvent(
            time: UTCMillis(1_795_923_603_000), actor: "-", role: "-", origin: "198.51.100.7",
            action: AuditAction.loginFailure, subject: "mallory", outcome: "auth-failed"),
        AuditEvent(
            time: UTCMillis(1_795_923_604_000), actor: "carol", role: "compliance", origin: "192.0.2.11",
            action: AuditAction.breakGlass, subject: "c1", detail: "reason=case-4711"),
    ]

    @Test func appendedRecordsMatchTheGoldenFile() async throws {
        let directory = try TemporaryDirectory("golden")
        defer { directory.remove() }
        let keys = try AuditKeys(master: SymmetricKey(bytes: [UInt8](repeating: 0x11, count: 32)))
        let signer = try AuditSigningKey.loadOrCreate(directory: directory.path, sealingKey: keys.signingSeal)
        let log = try await AuditLog(directory: directory.path, macKey: keys.mac, signer: signer)
        _ = try await log.append(contentsOf: Self.events)
        let written = try Data(contentsOf: URL(fileURLWithPath: directory.file("audit.jsonl")))
        let golden = try Data(contentsOf: Self.fixtures.appendingPathComponent("golden-audit.jsonl"))
        #expect(written == golden)

        var verifier = AuditChainVerifier(macKey: keys.mac, checkpoints: [])
        _ = verifier.feed(Array(golden)[...])
        #expect(verifier.finish().isValid)
        var wrongKey = AuditChainVerifier(macKey: keys.signingSeal, checkpoints: [])
        _ = wrongKey.feed(Array(golden)[...])
        #expect(wrongKey.finish().failure?.line == 1)
    }
}
