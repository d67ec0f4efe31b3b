// The retention sweep over real parts (a sealed Store in SQLite, the hash-chained AuditLog on disk, a
// policy parsed from YAML) under a clock the test moves: expired conversations are crypto-shredded (no
// row, and the wrapped data key's bytes are gone from the database files), a held one and one still in
// its period are kept, each shredding is audited with its rule, and no earlier audit record changes.
import Audit
import ChatCore
import EnclaveCrypto
import Foundation
import Policy
import Storage
import Testing

@Suite("Retention sweep")
struct RetentionSweepTests {
    static let policyText = """
        version: 1
        tags:
          pci: {}
          phi: {}
        retention:
          - name: pci-30-days
            when: {tags: [pci]}
            days: 30
          - name: contractors-10-days
            when: {groups: [contractors]}
            days: 10
          - name: phi-ten-years
            when: {tags: [phi]}
            days: 3650
        """

    struct Fixture {
        let directory: String
        let store: Store
        let log: AuditLog
        let policy: PolicySet

        init() async throws {
            directory = NSTemporaryDirectory() + "enclave-retention-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            store = try Store(path: directory + "/enclave.db", keyRing: try KeyRing(keys: [1: SymmetricKey.random()]))
            let secrets = try AuditSecrets(root: SymmetricKey.random())
            log = try await AuditLog(directory: directory + "/audit", macKey: secrets.mac, signer: secrets.signer)
            policy = try PolicySet.parse(files: [("retention.yaml", RetentionSweepTests.policyText)])
            for (name, groups) in [("alice", ["ward-3"]), ("carl", ["contractors"])] {
                try await store.createUser(
                    UserRecord(name: name, role: .staff, groups: groups, passwordHash: "scrypt$placeholder"))
            }
        }

        /// A sweep whose clock reads `days` days from now, reading two conversations per page (so every
        /// pass crosses pages).
        func sweep(after days: Double) -> RetentionSweep {
            let log = self.log
            return RetentionSweep(
                store: store, actor: "system:retention", role: "system",
                now: { Date().addingTimeInterval(days * 86_400) },
                pageSize: 2
            ) { events in _ = try await log.append(contentsOf: events) }
        }

        func conversation(_ owner: String, tags: Set<String>) async throws -> ConversationID {
            let id = try await store.createConversation(owner: owner, title: "t", tags: tags)
            _ = try await store.append(NewMessage(role: "user", body: "retention canary \(id)"), to: id)
            return id
        }

        /// Every byte of the database and its WAL.
        func databaseBytes() -> Data {
            ["", "-wal"].reduce(into: Data()) { all, suffix in
                all.append(FileManager.default.contents(atPath: directory + "/enclave.db" + suffix) ?? Data())
            }
        }

        func auditLines() -> [String] {
            let text =
                (try? String(contentsOfFile: directory + "/audit/" + AuditLog.logFileName, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map(String.init)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test("expired conversations are shredded with their keys; held and current ones stay; audit grows only")
    func sweepUnderAMovingClock() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let card = try await fixture.conversation("alice", tags: ["pci"])
        let heldCard = try await fixture.conversation("alice", tags: ["pci"])
        let clinical = try await fixture.conversation("alice", tags: ["phi", "pci"])
        let plain = try await fixture.conversation("alice", tags: [])
        let contractor = try await fixture.conversation("carl", tags: [])
        let hold = try await fixture.store.addHold(
            .conversation, subject: heldCard.rawValue, reason: "matter 17", by: "os:counsel")
        _ = try await fixture.log.append(AuditEvent(actor: "alice", role: "staff", action: "auth.login"))
        let raw = try SQLiteConnection(path: fixture.directory + "/enclave.db", create: false)
        let cardKey = try #require(
            try raw.query("SELECT wrapped_key FROM conversations WHERE id = ?", [card.rawValue]).first?[0].bytes)

        // Day 20: only the contractor's 10-day rule has run out; a dry run reports it and changes nothing.
        let dry = try await fixture.sweep(after: 20).run(policy: fixture.policy, dryRun: true)
        #expect(dry.expired.map(\.id) == [contractor])
        #expect(try await fixture.store.conversation(contractor) != nil)
        let day20 = try await fixture.sweep(after: 20).run(policy: fixture.policy)
        #expect(day20.expired.map(\.id) == [contractor] && day20.expired.first?.rule == "contractors-10-days")
        #expect(try await fixture.store.conversation(contractor) == nil)
        #expect(try await fixture.store.conversation(card) != nil)
        let auditAfterDay20 = fixture.auditLines()

        // Day 31: the card conversations' 30 days are over; the held one stays, the one that is also PHI
        // keeps the longest matching period, the untagged one matches no rule.
        let day31 = try await fixture.sweep(after: 31).run(policy: fixture.policy)
        #expect(day31.expired.map(\.id) == [card])
        #expect(day31.expired.first?.rule == "pci-30-days" && day31.expired.first?.days == 30)
        #expect(day31.held == [heldCard])
        #expect(day31.kept == 2)
        #expect(try await fixture.store.conversation(card) == nil)
        await #expect(throws: StoreError.self) { try await fixture.store.history(card) }
        #expect(
            try raw.query("SELECT COUNT(*) FROM messages WHERE conversation_id = ?", [card.rawValue]).first?[0].int == 0
        )
        #expect(fixture.databaseBytes().range(of: Data(cardKey)) == nil, "the wrapped data key survived on disk")
        #expect(try await fixture.store.history(heldCard).map(\.body) == ["retention canary \(heldCard)"])
        #expect(try await fixture.store.history(clinical).count == 1)
        #expect(try await fixture.store.history(plain).count == 1)

        // The audit log only grew: one retention record per shredded conversation, naming the rule.
        let lines = fixture.auditLines()
        #expect(Array(lines.prefix(auditAfterDay20.count)) == auditAfterDay20)
        let expiries = lines.filter { $0.contains("\"action\":\"retention.expire\"") }
        #expect(expiries.count == 2)
        #expect(expiries.contains { $0.contains(card.rawValue) && $0.contains("rule=pci-30-days days=30") })
        #expect(expiries.contains { $0.contains(contractor.rawValue) && $0.contains("rule=contractors-10-days") })
        #expect(!lines.joined().contains("retention canary") && !lines.joined().contains("matter 17"))
        #expect(try fixture.log.verify().isValid)

        // Lifting the hold lets the next sweep take it.
        try await fixture.store.removeHold(id: hold.id)
        let later = try await fixture.sweep(after: 31).run(policy: fixture.policy)
        #expect(later.expired.map(\.id) == [heldCard] && later.held.isEmpty)
        try await fixture.log.close()
    }

    @Test("a policy without retention rules keeps everything, however old")
    func noRulesKeepsEverything() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.conversation("carl", tags: ["pci"])
        let policy = try PolicySet.parse(files: [("tags.yaml", "version: 1\ntags:\n  pci: {}\n")])
        let report = try await fixture.sweep(after: 100_000).run(policy: policy)
        #expect(report.expired.isEmpty)
        #expect(try await fixture.store.conversation(id) != nil)
        try await fixture.log.close()
    }
}
