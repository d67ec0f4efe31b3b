import EnclaveCrypto
// AuditRootKey: the root key survives master-key rotation (records written before and after a re-wrap
// verify with secrets and offline, the public key does not change), is stored sealed 0600 in the
// documented format (opened here independently with HKDF + AES-GCM), and a wrong or missing master key
// is a clear `audit-key` error.
import Foundation
import Testing

@testable import Audit

@Suite struct AuditRootKeyTests {
    static let masterOne = try! SymmetricKey(bytes: [UInt8](repeating: 0x31, count: 32))
    static let masterTwo = try! SymmetricKey(bytes: [UInt8](repeating: 0x32, count: 32))

    @Test func recordsBeforeAndAfterRotationVerifyAndThePublicKeyStays() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let before = try AuditRootKey.loadOrCreate(
            directory: directory.path, masterKeys: [1: Self.masterOne], latestVersion: 1)
        do {
            let log = try await AuditLog(directory: directory.path, macKey: before.mac, signer: before.signer)
            _ = try await log.append(contentsOf: SampleEvents.events(20, seed: 11))
            try await log.close()
        }
        let sealedBefore = try String(contentsOfFile: directory.file("root.key"), encoding: .utf8)
        #expect(
            try AuditRootKey.rewrap(
                directory: directory.path, masterKeys: [1: Self.masterOne, 2: Self.masterTwo], to: 2))
        #expect(try AuditRootKey.sealedVersion(directory: directory.path) == 2)
        #expect(try String(contentsOfFile: directory.file("root.key"), encoding: .utf8) != sealedBefore)
        #expect(try !AuditRootKey.rewrap(directory: directory.path, masterKeys: [2: Self.masterTwo], to: 2))

        // Version 1 is retired: only version 2 remains in the ring.
        let after = try AuditRootKey.load(directory: directory.path, masterKeys: [2: Self.masterTwo])
        #expect(after.signer.publicKey == before.signer.publicKey)
        #expect(after.mac.copyBytes() == before.mac.copyBytes())
        do {
            let log = try await AuditLog(directory: directory.path, macKey: after.mac, signer: after.signer)
            _ = try await log.append(contentsOf: SampleEvents.events(20, seed: 12))
            try await log.close()
        }
        let full = try AuditVerifier.verify(
            directory: directory.path, macKey: after.mac, publicKey: after.signer.publicKey)
        #expect(full.isValid && full.recordsVerified == 40 && full.latestCheckpoint == 40)
        let offline = try AuditVerifier.verify(
            directory: directory.path, macKey: nil, publicKey: before.signer.publicKey)
        #expect(offline.isValid && offline.recordsVerified == 40)
    }

    @Test func storedSealedInTheDocumentedFormat() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let secrets = try AuditRootKey.loadOrCreate(
            directory: directory.path, masterKeys: [3: Self.masterOne], latestVersion: 3)
        let path = directory.file("root.key")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let parts = try String(contentsOfFile: path, encoding: .utf8).split(separator: " ")
        try #require(parts.count == 3)
        #expect(parts[0] == "enclave-audit-root-key-v1" && parts[1] == "3")
        // Open it as the file comment documents, without AuditRootKey.
        let box = try SealedBox(combined: hexBytes(String(parts[2]).trimmingCharacters(in: .whitespacesAndNewlines)))
        let wrap = try HKDFSHA256.deriveKey(
            from: Self.masterOne, salt: [], info: Array("enclave/audit/root-wrap/v1".utf8))
        let root = try SymmetricKey(
            bytes: try AESGCM.open(box, key: wrap, aad: Array("enclave/audit/root.key/v1 master-version=3".utf8)))
        let mac = try HKDFSHA256.deriveKey(from: root, salt: [], info: Array("enclave/audit/root/mac/v1".utf8))
        let seed = try HKDFSHA256.deriveKey(
            from: root, salt: [], info: Array("enclave/audit/root/ed25519-seed/v1".utf8))
        #expect(secrets.mac.copyBytes() == mac.copyBytes())
        #expect(try Ed25519PrivateKey(rawRepresentation: seed.copyBytes()).publicKey == secrets.signer.publicKey)
        #expect(mac.copyBytes() != seed.copyBytes())
        // The AAD binds the version: the same blob relabelled as version 4 (same key) does not open.
        try "enclave-audit-root-key-v1 4 \(parts[2])".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: AuditError.self) {
            try AuditRootKey.load(directory: directory.path, masterKeys: [4: Self.masterOne])
        }
    }

    @Test func wrongOrMissingMasterKeyIsAClearError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try AuditRootKey.loadOrCreate(directory: directory.path, masterKeys: [1: Self.masterOne], latestVersion: 1)
        #expect(throws: AuditError.self) {
            try AuditRootKey.load(directory: directory.path, masterKeys: [1: Self.masterTwo])
        }
        do {
            _ = try AuditRootKey.load(directory: directory.path, masterKeys: [2: Self.masterTwo])
            Issue.record("a ring without version 1 opened the root key")
        } catch let error as AuditError {
            #expect(error.code == "audit-key" && error.description.contains("version 1"))
        }
        #expect(throws: AuditError.self) {
            try AuditRootKey.rewrap(directory: directory.path, masterKeys: [1: Self.masterOne], to: 2)
        }
    }

    @Test func refusesALogMadeBeforeRootKeys() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        _ = try await log.append(SampleEvents.events(1, seed: 1)[0])
        #expect(throws: AuditError.self) {
            try AuditRootKey.loadOrCreate(directory: directory.path, masterKeys: [1: Self.masterOne], latestVersion: 1)
        }
    }

    private func hexBytes(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).map {
            UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)!
        }
    }
}
