// AuditSigningKey: created once, sealed at rest (0600), reloaded only with the right sealing key; the
// exported public key round-trips and verifies signatures made with the private key.
import Foundation
import Testing
import EnclaveCrypto
@testable import Audit

@Suite struct AuditSigningKeyTests {
    @Test func createsOnceSealedAndReloads() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keys = try TestKeys.keys()
        let first = try AuditSigningKey.loadOrCreate(directory: directory.path, sealingKey: keys.signingSeal)
        let second = try AuditSigningKey.loadOrCreate(directory: directory.path, sealingKey: keys.signingSeal)
        #expect(first.publicKey == second.publicKey)
        let path = directory.file("signing.key")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("enclave-audit-signing-key-v1 "))
        #expect(!text.contains(first.rawRepresentation.hexString))
        let wrong = try AuditKeys(master: SymmetricKey(bytes: [UInt8](repeating: 1, count: 32)))
        #expect(throws: AuditError.self) { try AuditSigningKey.load(path: path, sealingKey: wrong.signingSeal) }
    }

    @Test func exportedPublicKeyVerifiesSignatures() throws {
        let key = try Ed25519PrivateKey()
        let text = AuditSigningKey.exportPublicKey(key) + "\n"
        let imported = try AuditSigningKey.importPublicKey(text: text)
        #expect(imported == key.publicKey)
        let message = Array("checkpoint".utf8)
        #expect(imported.isValidSignature(try key.signature(for: message), for: message))
        #expect(throws: AuditError.self) { try AuditSigningKey.importPublicKey(text: "zz") }
        #expect(throws: AuditError.self) { try AuditSigningKey.importPublicKey(text: text.uppercased()) }
    }

    @Test func auditKeysUseTheDocumentedHKDFInfoStrings() throws {
        let master = try TestKeys.master()
        let keys = try AuditKeys(master: master)
        let mac = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/audit/mac/v1".utf8))
        let seal = try HKDFSHA256.deriveKey(from: master, salt: [], info: Array("enclave/audit/signing-seal/v1".utf8))
        #expect(keys.mac.copyBytes() == mac.copyBytes())
        #expect(keys.signingSeal.copyBytes() == seal.copyBytes())
        #expect(keys.mac.copyBytes() != keys.signingSeal.copyBytes())
    }
}
