// scrypt password hashing: RFC 7914 known answer, stored-string format, and hostile stored strings.
import Testing

@testable import EnclaveCrypto

@Suite("PasswordHash")
struct PasswordHashTests {
    @Test("RFC 7914 §12 vector: scrypt(password, NaCl, N=1024, r=8, p=16, 64)")
    func rfc7914() throws {
        let out = try PasswordHash.scrypt("password", salt: Array("NaCl".utf8), log2N: 10, r: 8, p: 16, count: 64)
        #expect(
            out.hexString == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                + "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    @Test("make/verify: self-describing string, right password only, salts differ")
    func makeAndVerify() throws {
        let stored = try PasswordHash.make("correct horse")
        #expect(stored.hasPrefix("scrypt$15$8$1$"))
        #expect(stored.split(separator: "$").count == 6)
        #expect(PasswordHash.verify("correct horse", against: stored))
        #expect(!PasswordHash.verify("correct horsE", against: stored))
        #expect(try PasswordHash.make("correct horse") != stored)
    }

    @Test("malformed or abusive stored strings never match and never crash")
    func hostile() {
        for stored in [
            "", "scrypt", "bcrypt$15$8$1$AAAA$AAAA", "scrypt$40$8$1$AAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA==",
            "scrypt$15$8$1$!!$AAAA", "scrypt$15$999$1$AAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA==", "scrypt$$$$$",
        ] {
            #expect(!PasswordHash.verify("x", against: stored), "\(stored)")
        }
    }
}
