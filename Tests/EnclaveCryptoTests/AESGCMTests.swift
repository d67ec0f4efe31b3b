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

    @Test("one Opener opens many boxes, rejects altered ones, and keeps working after a failure")
    func opener() throws {
        let key = try SymmetricKey.random()
        let boxes = try (0..<20).map {
            try AESGCM.seal(Array("message \($0)".utf8), key: key, aad: [UInt8($0)]).combined
        }
        let opener = try AESGCM.Opener(key: key)
        for (index, box) in boxes.enumerated() {
            #expect(try opener.open(combined: box, aad: [UInt8(index)]) == Array("message \(index)".utf8))
            var altered = box
            altered[index % box.count] ^= 0x01
            #expect(throws: CryptoError.authenticationFailed) {
                try opener.open(combined: altered, aad: [UInt8(index)])
            }
            #expect(throws: CryptoError.authenticationFailed) {
                try opener.open(combined: box, aad: [UInt8(index + 1)])
            }
        }
        #expect(try opener.open(combined: AESGCM.seal([], key: key).combined) == [])
        #expect(throws: CryptoError.self) { try opener.open(combined: [UInt8](repeating: 0, count: 27)) }
    }

    @Test("one Sealer seals many boxes, each under a fresh nonce, and each opens only with its own AAD")
    func sealer() throws {
        let key = try SymmetricKey.random()
        let sealer = try AESGCM.Sealer(key: key)
        var nonces = Set<[UInt8]>()
        for index in 0..<20 {
            let message = Array("message \(index)".utf8)
            let aad: [UInt8] = [UInt8(index)]
            let box = try message.withUnsafeBytes { plain in
                try aad.withUnsafeBytes { try sealer.seal(plain, aad: $0) }
            }
            #expect(box.count == 12 + message.count + 16)
            nonces.insert(Array(box[..<12]))
            #expect(try AESGCM.open(SealedBox(combined: box), key: key, aad: aad) == message)
            #expect(throws: CryptoError.authenticationFailed) {
                try AESGCM.open(SealedBox(combined: box), key: key, aad: [UInt8(index + 1)])
            }
        }
        #expect(nonces.count == 20)
        let nothing = UnsafeRawBufferPointer(start: nil, count: 0)
        let empty = try sealer.seal(nothing, aad: nothing)
        #expect(try AESGCM.open(SealedBox(combined: empty), key: key) == [])
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
