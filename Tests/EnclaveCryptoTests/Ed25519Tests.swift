// Ed25519 signing: RFC 8032 test 1 (independent oracle), sign/verify round trip, forgery rejection.
import Testing

@testable import EnclaveCrypto

@Suite("Ed25519")
struct Ed25519Tests {
    @Test("RFC 8032 §7.1 test 1: public key and signature match the published values")
    func rfc8032() throws {
        let key = try Ed25519PrivateKey(
            rawRepresentation: [UInt8](hex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(
            key.publicKey.rawRepresentation.hexString
                == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = try key.signature(for: [])
        #expect(
            signature.hexString
                == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        )
        #expect(key.publicKey.isValidSignature(signature, for: []))
    }

    @Test("a fresh key signs; another message, key or a flipped bit does not verify")
    func roundTrip() throws {
        let key = try Ed25519PrivateKey()
        let message = Array("checkpoint 42".utf8)
        let signature = try key.signature(for: message)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: Array("checkpoint 43".utf8)))
        #expect(!(try Ed25519PrivateKey()).publicKey.isValidSignature(signature, for: message))
        var flipped = signature
        flipped[5] ^= 0x10
        #expect(!key.publicKey.isValidSignature(flipped, for: message))
        #expect(!key.publicKey.isValidSignature(Array(signature.prefix(63)), for: message))
        let again = try Ed25519PrivateKey(rawRepresentation: key.rawRepresentation)
        #expect(again.publicKey == key.publicKey)
        #expect(throws: CryptoError.self) { try Ed25519PublicKey(rawRepresentation: [1, 2]) }
    }
}
