// AES-GCM and key wrapping: round trips, random nonces, and rejection of every kind of alteration.
import Testing

@testable import EnclaveCrypto

@Suite("AESGCM")
struct AESGCMTests {
    @Test("seal then open returns the plaintext; nonces differ between seals")
    func roundTrip() throws {
        let key = try SymmetricKey.random()
        let message = Array("patient 4711 has a cough".utf8)
        let a = try AESGCM.seal(message, key: key, aad: [1, 2, 3])
        let b = try AESGCM.seal(message, key: key, aad: [1, 2, 3])
        #expect(a.nonce != b.nonce)
        #expect(a.ciphertext != message)
        #expect(try AESGCM.open(a, key: key, aad: [1, 2, 3]) == message)
        #expect(try AESGCM.open(try SealedBox(combined: b.combined), key: key, aad: [1, 2, 3]) == message)
        let empty = try AESGCM.seal([], key: key)
        #expect(try AESGCM.open(empty, key: key) == [])
    }

    @Test("any flipped bit, other AAD or other key fails authentication")
    func tamper() throws {
        let key = try SymmetricKey.random()
        let combined = try AESGCM.seal(Array("secret".utf8), key: key, aad: [9]).combined
        for bit in 0..<(combined.count * 8) {
            var altered = combined
            altered[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: CryptoError.authenticationFailed) {
                try AESGCM.open(SealedBox(combined: altered), key: key, aad: [9])
            }
        }
        let box = try SealedBox(combined: combined)
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(box, key: key, aad: [8]) }
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(box, key: SymmetricKey.random(), aad: [9]) }
        #expect(throws: CryptoError.self) { try SealedBox(combined: Array(combined.prefix(27))) }
    }

    @Test("wrapped keys unwrap only under the same master key and AAD")
    func keyWrap() throws {
        let master = try SymmetricKey.random()
        let dataKey = try SymmetricKey.random()
        let wrapped = try KeyWrap.wrap(dataKey, under: master, aad: Array("conv-1".utf8))
        #expect(wrapped.count == 12 + 32 + 16)
        let unwrapped = try KeyWrap.unwrap(wrapped, under: master, aad: Array("conv-1".utf8))
        #expect(unwrapped.copyBytes() == dataKey.copyBytes())
        #expect(throws: CryptoError.authenticationFailed) {
            try KeyWrap.unwrap(wrapped, under: master, aad: Array("conv-2".utf8))
        }
    }

    @Test("keys of unsupported sizes are refused")
    func keySizes() throws {
        #expect(throws: CryptoError.self) { try SymmetricKey(bytes: []) }
        let odd = try SymmetricKey(bytes: [UInt8](repeating: 1, count: 31))
        #expect(throws: CryptoError.self) { try AESGCM.seal([1], key: odd) }
    }

    @Test("constant-time comparison and zeroing")
    func helpers() throws {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2], [1, 2, 3]))
        #expect(constantTimeEquals([], []))
        var secret: [UInt8] = [7, 7, 7]
        secureZero(&secret)
        #expect(secret.isEmpty)
        #expect(try SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }
}
