// Brute force against the real parts: scrypt hashes in a sealed Store, the hash-chained audit log on
// disk. Eleven wrong passwords lock the account and the lock-out is in the audit file; an unknown
// user and a wrong password take the same time (medians within 10%).
import Audit
import ChatCore
import ChatCoreTestSupport
import EnclaveCrypto
import Foundation
import Storage
import Testing

struct ScryptVerifier: PasswordVerifier {
    let decoyHash: String
    init() throws { decoyHash = try PasswordHash.make("decoy-\(UUID().uuidString)") }
    func verify(_ password: String, against stored: String) -> Bool { PasswordHash.verify(password, against: stored) }
    func hash(_ password: String) throws -> String { try PasswordHash.make(password) }
}

@Suite struct BruteForceTests {
    /// A ChatCore over a real Store and AuditLog in a fresh directory.
    private func realCore(in directory: String, lockoutThreshold: Int = 10) async throws -> (ChatCore, AuditLog) {
        let ring = try KeyRing(keys: [1: SymmetricKey.random()])
        let store = try Store(path: directory + "/enclave.db", keyRing: ring)
        try await store.createUser(
            UserRecord(name: "alice", role: .staff, passwordHash: try PasswordHash.make("alice-password-long")))
        let auditKeys = try AuditKeys(master: SymmetricKey.random())
        let signer = try AuditSigningKey.loadOrCreate(
            directory: directory + "/audit", sealingKey: auditKeys.signingSeal)
        let audit = try await AuditLog(directory: directory + "/audit", macKey: auditKeys.mac, signer: signer)
        let core = ChatCore(
            store: store, passwords: try ScryptVerifier(), policy: try await TestPolicies.gate(in: directory),
            gateway: TestProvider.echo().gateway, audit: audit,
            configuration: {
                var configuration = ChatCore.Configuration()
                configuration.lockoutThreshold = lockoutThreshold
                // These tests compare the cost of the password check itself; the pause after failures
                // (LoginThrottleTests) would only add equal time to both sides.
                configuration.failureDelayStep = .zero
                return configuration
            }())
        return (core, audit)
    }

    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-bf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func elevenWrongPasswordsLockTheAccountAndTheLockOutIsAudited() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (core, audit) = try await realCore(in: directory)
        var codes: [ChatFailure.Code] = []
        for attempt in 0..<11 {
            do {
                _ = try await core.login(name: "alice", password: "wrong-\(attempt)", origin: "203.0.113.9")
            } catch {
                codes.append(error.code)
            }
        }
        #expect(codes == Array(repeating: .authFailed, count: 10) + [.lockedOut])
        // Even the right password is refused now.
        await #expect(throws: ChatFailure.self) {
            _ = try await core.login(name: "alice", password: "alice-password-long", origin: "203.0.113.9")
        }
        try await audit.close()
        let lockouts = try AuditReader.search(
            directory: directory + "/audit", query: AuditQuery(action: "auth.lockout"))
        #expect(lockouts.count == 1)
        #expect(lockouts.first?.event.subject == "alice")
        let failures = try AuditReader.search(directory: directory + "/audit", query: AuditQuery(action: "auth.login"))
        #expect(failures.filter { $0.event.outcome == "failed" }.count == 10)
    }

    @Test func unknownUserAndWrongPasswordTakeTheSameTime() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (core, audit) = try await realCore(in: directory, lockoutThreshold: 1000)
        func seconds(_ user: String, _ attempt: Int) async -> Double {
            let start = ContinuousClock.now
            _ = try? await core.login(name: user, password: "wrong-password-\(attempt)", origin: "-")
            let took = ContinuousClock.now - start
            return Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        }
        // Interleaved samples; the minimum of each is the least disturbed by other load on the machine.
        // A real leak (say, skipping scrypt for unknown users: ~0 ms against ~100 ms) fails every
        // round; a busy CI machine gets five rounds before the difference counts.
        var differences: [Double] = []
        for _ in 0..<5 {
            var unknownTimes: [Double] = []
            var wrongTimes: [Double] = []
            for attempt in 0..<10 {
                unknownTimes.append(await seconds("nobody", attempt))
                wrongTimes.append(await seconds("alice", attempt))
            }
            let unknown = unknownTimes.min()!
            let wrong = wrongTimes.min()!
            print("login timing: unknown user \(Int(unknown * 1000)) ms, wrong password \(Int(wrong * 1000)) ms")
            differences.append(abs(unknown - wrong) / max(unknown, wrong))
            if differences.last! < 0.10 { break }
        }
        #expect(differences.min()! < 0.10)
        try await audit.close()
    }
}
