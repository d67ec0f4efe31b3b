// Every Wycheproof vector for AES-GCM, HMAC-SHA256, HKDF-SHA256 and Ed25519 through our wrappers.
import Testing

@testable import EnclaveCrypto

@Suite("Wycheproof oracle")
struct WycheproofTests {
    @Test("AES-GCM: 96-bit-IV vectors seal/open as expected, every other IV length is rejected")
    func aesGCM() throws {
        let file = try Wycheproof.load("aes_gcm_test.json", as: Wycheproof.File<Wycheproof.AEADGroup>.self)
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                checked += 1
                let key = try SymmetricKey(bytes: [UInt8](hex: test.key))
                let iv = [UInt8](hex: test.iv), aad = [UInt8](hex: test.aad), msg = [UInt8](hex: test.msg)
                let ct = [UInt8](hex: test.ct), tag = [UInt8](hex: test.tag)
                guard group.ivSize == 96 else {
                    // Our policy: only 96-bit nonces. Other lengths must not get through.
                    #expect(throws: CryptoError.self, "tcId \(test.tcId)") {
                        try SealedBox(nonce: iv, ciphertext: ct, tag: tag)
                    }
                    #expect(throws: CryptoError.self, "tcId \(test.tcId)") {
                        try AESGCM.seal(msg, key: key, nonce: iv, aad: aad)
                    }
                    continue
                }
                let box = try SealedBox(nonce: iv, ciphertext: ct, tag: tag)
                let opened = try? AESGCM.open(box, key: key, aad: aad)
                let openedByOpener = try? AESGCM.Opener(key: key).open(combined: iv + ct + tag, aad: aad)
                #expect(openedByOpener == opened, "tcId \(test.tcId): Opener and open disagree")
                if test.result == "valid" {
                    #expect(opened == msg, "tcId \(test.tcId) should open")
                    let sealed = try AESGCM.seal(msg, key: key, nonce: iv, aad: aad)
                    #expect(sealed.ciphertext == ct && sealed.tag == tag, "tcId \(test.tcId) should seal to ct/tag")
                    // The reusable Sealer, twice on one context: the second seal must not see the first's state.
                    let sealer = try AESGCM.Sealer(key: key)
                    for _ in 0..<2 {
                        #expect(
                            try sealer.seal(msg, nonce: iv, aad: aad) == iv + ct + tag,
                            "tcId \(test.tcId): Sealer should seal to iv/ct/tag")
                    }
                    let roundTrip = try SealedBox(combined: sealed.combined)
                    #expect(roundTrip == sealed)
                } else {
                    #expect(opened == nil, "tcId \(test.tcId) must be rejected")
                }
            }
        }
        #expect(checked == file.numberOfTests)
    }

    @Test("HMAC-SHA256: valid tags match, modified tags are rejected (full and truncated)")
    func hmac() throws {
        let file = try Wycheproof.load("hmac_sha256_test.json", as: Wycheproof.File<Wycheproof.MACGroup>.self)
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                checked += 1
                let key = try SymmetricKey(bytes: [UInt8](hex: test.key))
                let msg = [UInt8](hex: test.msg), tag = [UInt8](hex: test.tag)
                #expect(tag.count * 8 == group.tagSize || test.result == "invalid")
                let valid = HMACSHA256.isValidAuthenticationCode(tag, for: msg, key: key)
                #expect(valid == (test.result == "valid"), "tcId \(test.tcId)")
                if test.result == "valid" {
                    let full = try HMACSHA256.authenticate(msg, key: key)
                    #expect(Array(full.prefix(tag.count)) == tag, "tcId \(test.tcId)")
                }
            }
        }
        #expect(checked == file.numberOfTests)
    }

    @Test("HKDF-SHA256: outputs match; sizes beyond 255 blocks are refused")
    func hkdf() throws {
        let file = try Wycheproof.load("hkdf_sha256_test.json", as: Wycheproof.File<Wycheproof.HKDFGroup>.self)
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                checked += 1
                let ikm = try SymmetricKey(bytes: [UInt8](hex: test.ikm))
                let derived = try? HKDFSHA256.deriveKey(
                    from: ikm, salt: [UInt8](hex: test.salt), info: [UInt8](hex: test.info), count: test.size)
                if test.result == "valid" {
                    let bytes = derived?.copyBytes()
                    #expect(bytes == [UInt8](hex: test.okm), "tcId \(test.tcId)")
                } else {
                    #expect(derived == nil, "tcId \(test.tcId) must be refused")
                }
            }
        }
        #expect(checked == file.numberOfTests)
    }

    @Test("Ed25519: valid signatures verify, every malformed or forged one is rejected")
    func ed25519() throws {
        let file = try Wycheproof.load("ed25519_test.json", as: Wycheproof.File<Wycheproof.EdDSAGroup>.self)
        var checked = 0
        for group in file.testGroups {
            let key = try Ed25519PublicKey(rawRepresentation: [UInt8](hex: group.publicKey.pk))
            for test in group.tests {
                checked += 1
                let valid = key.isValidSignature([UInt8](hex: test.sig), for: [UInt8](hex: test.msg))
                #expect(valid == (test.result == "valid"), "tcId \(test.tcId)")
            }
        }
        #expect(checked == file.numberOfTests)
    }
}
