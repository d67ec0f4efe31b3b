// The sweep as `enclave serve` runs it (RetentionService, a service of its ServiceGroup): over the
// server's own Store, serving policy and audit log, with its clock moved 31 days ahead, it shreds the
// conversation a 30-day rule has expired at its first pass, audits it as `system:retention`, keeps the
// others, and stops when its task is cancelled (graceful shutdown). The same pass applies the audit log's
// own retention: past `retention_days` the log's front is pruned behind a signed mark (recorded first,
// and `audit verify` still passes), and nothing is pruned while a legal hold applies.
import Audit
import EnclaveCrypto
import Foundation
import Logging
import Policy
import Storage
import Testing

@testable import enclave

@Suite struct RetentionServiceTests {
    @Test func theServersDailySweepShredsWhatItsPolicyExpires() async throws {
        let directory = NSTemporaryDirectory() + "enclave-retention-service-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/policies", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        version: 1
        tags:
          pci: {}
        retention:
          - name: pci-30-days
            when: {tags: [pci]}
            days: 30
        """.write(toFile: directory + "/policies/p.yaml", atomically: true, encoding: .utf8)
        let store = try Store(path: directory + "/enclave.db", keyRing: try KeyRing(keys: [1: SymmetricKey.random()]))
        let secrets = try AuditSecrets(root: SymmetricKey.random())
        let log = try await AuditLog(directory: directory + "/audit", macKey: secrets.mac, signer: secrets.signer)
        try await store.createUser(UserRecord(name: "gil", role: .staff, passwordHash: "scrypt$x"))
        let card = try await store.createConversation(owner: "gil", title: "card", tags: ["pci"])
        let other = try await store.createConversation(owner: "gil", title: "other")
        let service = RetentionService(
            store: store, policy: PolicyStore(loading: directory + "/policies"), audit: log,
            logger: Logger(label: "test"), interval: .seconds(3600), now: { Date().addingTimeInterval(31 * 86_400) })
        let running = Task { await service.run() }
        var waited = 0
        while try await store.conversation(card) != nil && waited < 600 {
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
        }
        running.cancel()
        await running.value
        #expect(try await store.conversation(card) == nil)
        #expect(try await store.conversation(other) != nil)
        let audit = try String(contentsOfFile: directory + "/audit/" + AuditLog.logFileName, encoding: .utf8)
        #expect(audit.contains("\"actor\":\"system:retention\"") && audit.contains("rule=pci-30-days"))
        try await log.close()
    }

    @Test func theDailyPassPrunesTheAuditLogPastItsRetentionUnlessAHoldApplies() async throws {
        let directory = NSTemporaryDirectory() + "enclave-audit-retention-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/policies", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "version: 1\n".write(toFile: directory + "/policies/p.yaml", atomically: true, encoding: .utf8)
        let store = try Store(path: directory + "/enclave.db", keyRing: try KeyRing(keys: [1: SymmetricKey.random()]))
        try await store.createUser(UserRecord(name: "gil", role: .staff, passwordHash: "scrypt$x"))
        let secrets = try AuditSecrets(root: SymmetricKey.random())
        let auditDirectory = directory + "/audit"
        let log = try await AuditLog(
            directory: auditDirectory, macKey: secrets.mac, signer: secrets.signer,
            configuration: .init(retentionDays: 30))
        for _ in 0..<12 { _ = try await log.append(AuditEvent(actor: "gil", role: "staff", action: "auth.login")) }
        let marks = auditDirectory + "/" + AuditPruneMark.fileName
        let service = { (days: Double) in
            RetentionService(
                store: store, policy: PolicyStore(loading: directory + "/policies"), audit: log,
                logger: Logger(label: "test"), interval: .seconds(3600),
                now: { Date().addingTimeInterval(days * 86_400) })
        }

        // Within the period: nothing goes.
        await service(29).pruneAuditLog()
        #expect(!FileManager.default.fileExists(atPath: marks))

        // Under a hold: nothing goes, even past the period.
        let hold = try await store.addHold(.user, subject: "gil", reason: "matter 7", by: "test")
        await service(31).pruneAuditLog()
        #expect(!FileManager.default.fileExists(atPath: marks))
        _ = try await store.removeHold(id: hold.id)

        // Past the period, as the daily service runs it.
        let running = Task { await service(31).run() }
        var waited = 0
        while !FileManager.default.fileExists(atPath: marks) && waited < 600 {
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
        }
        running.cancel()
        await running.value
        let report = try AuditVerifier.verify(
            directory: auditDirectory, macKey: secrets.mac, publicKey: secrets.signer.publicKey)
        #expect(report.isValid, "\(String(describing: report.failure))")
        // The 12 logins are old; the last one stays (the chain's end), the rest go.
        #expect(report.prunedThrough == 11)
        let text = try String(contentsOfFile: auditDirectory + "/" + AuditLog.logFileName, encoding: .utf8)
        #expect(!text.contains("\"seq\":1,"))
        #expect(text.contains("\"action\":\"audit.prune\"") && text.contains("through=11 removed=11"))
        #expect(try await log.append(AuditEvent(actor: "gil", role: "staff", action: "auth.logout")) > 12)
        try await log.close()
    }
}
