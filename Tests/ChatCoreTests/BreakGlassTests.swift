// Break-glass (`/audit open <conversation> <reason...>`) over a real Store and AuditLog: only the
// compliance role may open a conversation (staff get `forbidden`, itself audited); the
// `audit.break-glass` record is written before the messages are read and holds the reason only as a
// keyed HMAC with its length; when the record cannot be written nothing is shown.
import Audit
import ChatCore
import Foundation
import Testing

@Suite struct BreakGlassTests {
    static let reason = "complaint ref 4471 from ward 9, patient asked for review"

    @Test func complianceSeesTheMessagesAfterAnAuditedReason() async throws {
        let fixture = try await AuditFixture()
        defer { fixture.remove() }
        let alice = try await fixture.login("alice")
        let canary = "canary-bg-\(UUID().uuidString)"
        let sent = try await fixture.send("Please summarise \(canary) for me.", as: alice)
        let carol = try await fixture.login("carol")

        let result = try await fixture.core.auditQuery(
            ["open", sent.conversation] + Self.reason.split(separator: " ").map(String.init), as: carol,
            origin: "192.0.2.8")
        #expect(result.ok == "conversation=\(sent.conversation) messages=2 break-glass=audited")
        guard case .row(let first)? = result.output.first else {
            Issue.record("no rows")
            return
        }
        #expect(first[1] == "user" && first[3].contains(canary))

        let record = try #require(try fixture.records().last)
        #expect(record.event.action == "audit.break-glass")
        #expect(record.event.actor == "carol" && record.event.role == "compliance")
        #expect(record.event.subject == "conversation:\(sent.conversation)")
        let hmac = try AuditLog.pseudonym(Self.reason, macKey: fixture.macKey)
        #expect(record.event.detail == "reason-hmac=\(hmac) reason-chars=\(Self.reason.count)")
        let bytes = try fixture.auditBytes()
        #expect(!bytes.contains(bytes: Array(canary.utf8)))
        #expect(!bytes.contains(bytes: Array("ward 9".utf8)))
    }

    @Test func staffAreForbiddenAndTheAttemptIsAudited() async throws {
        let fixture = try await AuditFixture()
        defer { fixture.remove() }
        let alice = try await fixture.login("alice")
        let sent = try await fixture.send("hello there", as: alice)
        await #expect(throws: ChatFailure(.forbidden, "/audit needs the compliance role")) {
            try await fixture.core.auditQuery(
                ["open", sent.conversation, "curious", "about", "this", "one"], as: alice, origin: "192.0.2.7")
        }
        let record = try #require(try fixture.records().last)
        #expect(record.event.action == "access.denied" && record.event.outcome == "forbidden")
        #expect(record.event.subject == "command:audit")
        #expect(!(try fixture.records().contains { $0.event.action == "audit.break-glass" }))
    }

    @Test func noReasonOrNoConversationShowsNothing() async throws {
        let fixture = try await AuditFixture()
        defer { fixture.remove() }
        let alice = try await fixture.login("alice")
        let sent = try await fixture.send("hello there", as: alice)
        let carol = try await fixture.login("carol")
        do {
            _ = try await fixture.core.auditQuery(["open", sent.conversation, "because"], as: carol, origin: "x")
            Issue.record("a one-word reason was accepted")
        } catch {
            #expect(error.code == .badArguments)
        }
        do {
            _ = try await fixture.core.auditQuery(
                ["open", "no-such-conversation", "a", "long", "enough", "reason"], as: carol, origin: "x")
            Issue.record("an unknown conversation was opened")
        } catch {
            #expect(error.code == .notFound)
        }
        #expect(!(try fixture.records().contains { $0.event.action == "audit.break-glass" }))
    }

    @Test func whenTheRecordCannotBeWrittenNothingIsShown() async throws {
        let fixture = try await AuditFixture()
        defer { fixture.remove() }
        let alice = try await fixture.login("alice")
        let sent = try await fixture.send("hello there", as: alice)
        let carol = try await fixture.login("carol")
        try fixture.replaceLogWithDirectory()
        do {
            let result = try await fixture.core.auditQuery(
                ["open", sent.conversation] + Self.reason.split(separator: " ").map(String.init), as: carol,
                origin: "x")
            Issue.record("break-glass without its record returned \(result.output.count) rows")
        } catch {
            #expect(error.code == .internal)
        }
    }
}
