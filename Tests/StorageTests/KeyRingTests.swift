// The key ring: key files must be private and ours, the three sources agree, bad text is refused,
// and the key check value tells keys apart.
import EnclaveCrypto
import Foundation
import Storage
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("KeyRing")
struct KeyRingTests {
    static let hex1 = String(repeating: "ab", count: 32)
    static let hex2 = String(repeating: "cd", count: 32)

    @Test("a created key file is mode 0600, loads back, and is never overwritten")
    func keyFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("master.key")
        let ring = try makeKeyRing()
        try ring.createKeyFile(at: path)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let loaded = try KeyRing.load(.file(path))
        #expect(try loaded.checkValue(version: 1) == ring.checkValue(version: 1))
        #expect(throws: StoreError.self) { try makeKeyRing().createKeyFile(at: path) }
        #expect(try KeyRing.load(.file(path)).checkValue(version: 1) == ring.checkValue(version: 1))
        chmod(path, 0o400)
        #expect(try KeyRing.load(.file(path)).versions == [1])
    }

    @Test("a key file readable by others, or owned by another user, is refused")
    func unsafeKeyFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("master.key")
        try makeKeyRing().createKeyFile(at: path)
        for mode: mode_t in [0o644, 0o640, 0o604, 0o700] {
            chmod(path, mode)
            let error = #expect(throws: StoreError.self) { try KeyRing.load(.file(path)) }
            #expect(error?.code == .keySource)
        }
        chmod(path, 0o600)
        if geteuid() == 0 {
            chown(path, 65534, 65534)
            let error = #expect(throws: StoreError.self) { try KeyRing.load(.file(path)) }
            #expect(error?.message.contains("owned by uid 65534") == true)
        }
        let link = dir.file("link.key")
        symlink(path, link)
        #expect(throws: StoreError.self) { try KeyRing.load(.file(link)) }
    }

    @Test("environment variable and command sources read the same text format")
    func otherSources() throws {
        let name = "ENCLAVE_TEST_KEY_\(getpid())"
        setenv(name, "1 \(Self.hex1)\n2 \(Self.hex2)\n", 1)
        defer { unsetenv(name) }
        let fromEnv = try KeyRing.load(.environment(name))
        #expect(fromEnv.versions == [1, 2])
        let fromCommand = try KeyRing.load(
            .command(["/bin/sh", "-c", "printf '# kms\\n1 \(Self.hex1)\\n2 \(Self.hex2)\\n'"]))
        #expect(try fromCommand.checkValue(version: 2) == fromEnv.checkValue(version: 2))
        let bare = try KeyRing.load(.command(["/bin/sh", "-c", "echo \(Self.hex1)"]))
        #expect(try bare.checkValue(version: 1) == fromEnv.checkValue(version: 1))
        #expect(throws: StoreError.self) { try KeyRing.load(.command(["/bin/sh", "-c", "exit 3"])) }
        #expect(throws: StoreError.self) { try KeyRing.load(.environment(name + "_UNSET")) }
    }

    @Test("malformed key text is refused")
    func malformed() {
        for text in [
            "", "# only a comment", "1 abcd", "x \(Self.hex1)", "1 \(Self.hex1)\n1 \(Self.hex2)",
            "0 \(Self.hex1)", "1 \(String(repeating: "zz", count: 32))", "1 2 3",
        ] {
            let name = "ENCLAVE_TEST_BAD_\(getpid())"
            setenv(name, text, 1)
            #expect(throws: StoreError.self, "\(text)") { try KeyRing.load(.environment(name)) }
            unsetenv(name)
        }
    }

    @Test("different keys have different check values; rotation adds the next version")
    func checkValues() throws {
        let a = try makeKeyRing(), b = try makeKeyRing()
        #expect(try a.checkValue(version: 1) != b.checkValue(version: 1))
        #expect(try a.checkValue(version: 2) == nil)
        #expect(try a.addRandomVersion() == 2)
        #expect(a.versions == [1, 2])
        a.removeVersions(below: 2)
        #expect(a.versions == [2])
    }
}
