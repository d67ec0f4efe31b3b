// Accounts as a live session sees them: a one-time password opens one session without the role's
// privileges, `/passwd` replaces it (and ends the user's other sessions), and a session whose account is
// disabled, locked, deleted, demoted or regrouped elsewhere ends within about a second: an idle one with
// a notice, a streaming one after its reply is cut.
import Audit
import ChatCore
import ChatCoreTestSupport
import Foundation
import Storage
import Testing

@testable import ChatServer

/// A session that never ended would hang its read, so each test has a limit, generous for a runner whose
/// two cores also run the model tests; the server checks accounts every 250 ms, and the time a session
/// took to end is printed.
@Suite(.timeLimit(.minutes(10))) struct AccountSessionTests {
    @Test func aOneTimePasswordOpensOneRestrictedSessionUntilTheUserChoosesTheirOwn() async throws {
        try await TestServer.with { server in
            try await server.store.createUser(
                UserRecord(
                    name: "erin", role: .admin, groups: [], passwordHash: "test:printed-once-1234",
                    passwordState: .oneTime))
            try await server.client { client in
                let login = try await client.exchange("/login erin printed-once-1234")
                #expect(login.last == "OK user=erin role=admin")
                #expect(login.dropLast().contains { $0.hasPrefix("* ") && $0.contains("/passwd <current> <new>") })
                // No privileges yet, but the person can chat.
                #expect(try await client.final("/reload").hasPrefix("ERR forbidden choose your own password"))
                #expect(try await client.final("hello").hasPrefix("OK conversation="))
                // A wrong current password, a short one, the same one, one holding the name: refused.
                #expect(
                    try await client.final("/passwd wrong-password-1 a-brand-new-secret").hasPrefix("ERR auth-failed"))
                #expect(try await client.final("/passwd printed-once-1234 short").hasPrefix("ERR bad-arguments"))
                #expect(
                    try await client.final("/passwd printed-once-1234 printed-once-1234").hasPrefix("ERR bad-arguments")
                )
                #expect(
                    try await client.final("/passwd printed-once-1234 erin-is-my-password").hasPrefix(
                        "ERR bad-arguments"))
                #expect(try await client.final("/passwd printed-once-1234 a-brand-new-secret") == "OK password changed")
                #expect(try await client.final("/reload").hasPrefix("ERR") == false)
            }
            // The one-time password logs in no more; the chosen one does, without the notice.
            try await server.client { client in
                #expect(try await client.final("/login erin printed-once-1234").hasPrefix("ERR auth-failed"))
                let login = try await client.exchange("/login erin a-brand-new-secret")
                #expect(login == ["OK user=erin role=admin"])
            }
            let stored = try #require(try await server.store.user(named: "erin"))
            #expect(stored.passwordState == .own && stored.passwordHash == "test:a-brand-new-secret")
            let outcomes = try server.events().filter { $0.action == "auth.password-change" }.map(\.outcome)
            #expect(outcomes == ["failed", "ok"])
        }
    }

    @Test func aOneTimePasswordWhoseSessionWasOpenedCannotOpenAnother() async throws {
        try await TestServer.with { server in
            try await server.store.createUser(
                UserRecord(
                    name: "fred", role: .staff, groups: [], passwordHash: "test:given-by-admin-1",
                    passwordState: .oneTime))
            try await server.client { client in try await client.login("fred", "given-by-admin-1") }
            try await server.client { client in
                let answer = try await client.final("/login fred given-by-admin-1")
                #expect(
                    answer.hasPrefix("ERR auth-failed") && answer.contains("enclave users passwd fred"), "\(answer)")
            }
        }
    }

    /// Each change an admin can make to a logged-in account, and whether it must end the session.
    static let changes: [(name: String, notice: String, change: @Sendable (inout UserRecord) -> Void)] = [
        ("disabled", "your account was disabled", { $0.disabled = true }),
        ("locked", "your account was locked", { $0.lockedUntil = Date().addingTimeInterval(600) }),
        ("demoted", "your role changed", { $0.role = .staff }),
        ("regrouped", "your groups changed", { $0.groups = ["elsewhere"] }),
        ("password reset", "your password was changed", { $0.passwordHash = "test:reset-by-admin-1" }),
    ]

    @Test(arguments: 0..<changes.count)
    func anIdleSessionEndsWithANoticeWhenItsAccountChanges(_ index: Int) async throws {
        let (name, notice, change) = Self.changes[index]
        try await TestServer.with { server in
            try await server.store.createUser(
                UserRecord(name: "gail", role: .compliance, groups: ["ward3"], passwordHash: "test:gail-password-1"))
            // The change comes from another process, as `enclave users` makes it.
            let elsewhere = try server.backends.secondConnection()
            try await server.client { gail in
                try await gail.login("gail", "gail-password-1")
                try await server.client { bob in
                    try await bob.login("bob", "bob-password-1")
                    var account = try #require(try await elsewhere.user(named: "gail"))
                    change(&account)
                    let clock = ContinuousClock()
                    let start = clock.now
                    try await elsewhere.updateUser(account)
                    let rest = try await gail.readUntil { _ in true }
                    let elapsed = clock.now - start
                    print("session of a \(name) account ended after \(elapsed)")
                    #expect(rest.count == 1 && rest[0].hasPrefix("* session ended: \(notice)"), "\(name): \(rest)")
                    // Other users' sessions carry on.
                    #expect(try await bob.final("/whoami").hasPrefix("OK user=bob"))
                }
            }
            // The session's logout is audited once its connection has closed, a moment after the client
            // read the close: wait for it.
            var ends: [String] = []
            for _ in 0..<200 where ends.isEmpty {
                ends = try server.events().filter { $0.action == "auth.logout" && $0.actor == "gail" }.map(\.outcome)
                if ends.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(ends.first?.hasPrefix("ended-") == true, "\(ends)")
        }
    }

    /// Logs alice in and starts a reply that streams one word every 10 ms for 30 s on one growing line; returns
    /// once it has been streaming for half a second.
    static func startLongReply(_ alice: inout AsyncLineClient) async throws {
        try await alice.login("alice", "alice-password")
        try await alice.send("tell me a long story")
        try await Task.sleep(for: .milliseconds(500))
    }

    @Test func aDisabledAccountsStreamingReplyIsCutStoredAndTheSessionEnds() async throws {
        try await TestServer.with(gateway: slowGateway) { server in
            try await server.client { alice in
                // Then the account is disabled from another process.
                try await Self.startLongReply(&alice)
                let elsewhere = try server.backends.secondConnection()
                var account = try #require(try await elsewhere.user(named: "alice"))
                account.disabled = true
                try await elsewhere.updateUser(account)
                let rest = try await alice.readUntil { _ in true }
                let finals = rest.filter(AsyncLineClient.isFinal)
                #expect(finals.count == 1 && finals[0].hasSuffix(" stop=session-ended"), "\(finals)")
                #expect(rest.last == "* session ended: your account was disabled", "\(rest.suffix(3))")
            }
            // The reply is stored as far as it got.
            let stored = try await server.backends.latestHistory(of: "alice")
            #expect(stored.map(\.role) == ["user", "assistant"])
            #expect(stored.last?.body.hasPrefix(" w0") == true)
        }
    }

    @Test func aDeletedAccountsStreamingReplyIsCutAndTheSessionEnds() async throws {
        try await TestServer.with(gateway: slowGateway) { server in
            try await server.client { alice in
                // Then the account is deleted as `enclave users delete` does, which erases its conversations too.
                try await Self.startLongReply(&alice)
                let conversation = try #require(try await server.store.conversations(owner: "alice").first?.id)
                try await server.backends.secondConnection().deleteUser("alice")
                let rest = try await alice.readUntil { _ in true }
                // The cut reply has nowhere to go: the final line says its conversation is gone.
                let finals = rest.filter(AsyncLineClient.isFinal)
                #expect(finals == ["ERR not-found no conversation \(conversation)"], "\(finals)")
                #expect(rest.last == "* session ended: your account was deleted", "\(rest.suffix(3))")
            }
        }
    }

    /// The account check runs every millisecond here, so it often reads the session's old principal after
    /// the Store already holds the new hash: the session that changed its own password must still go on.
    @Test func aSessionsOwnPasswordChangesNeverEndIt() async throws {
        try await TestServer.with(configure: { $0.accountCheckInterval = .milliseconds(1) }) { server in
            try await server.client { bob in
                try await bob.login("bob", "bob-password-1")
                #expect(try await bob.final("/passwd bob-password-1 first-long-secret") == "OK password changed")
                let passwords = ["first-long-secret", "second-long-secret"]
                for round in 0..<40 {
                    let (current, new) = (passwords[round % 2], passwords[(round + 1) % 2])
                    let answer = try await bob.final("/passwd \(current) \(new)")
                    #expect(answer == "OK password changed", "round \(round): \(answer)")
                    #expect(try await bob.final("/whoami").hasPrefix("OK user=bob"), "round \(round)")
                }
            }
        }
    }

    @Test func changingAPasswordEndsTheUsersOtherSessionsButNotThisOne() async throws {
        try await TestServer.with { server in
            try await server.client { first in
                try await first.login("bob", "bob-password-1")
                try await server.client { second in
                    try await second.login("bob", "bob-password-1")
                    #expect(
                        try await second.final("/passwd bob-password-1 a-much-better-secret") == "OK password changed")
                    let rest = try await first.readUntil { _ in true }
                    #expect(rest == ["* session ended: your password was changed; log in again"], "\(rest)")
                    #expect(try await second.final("/whoami").hasPrefix("OK user=bob"))
                }
            }
        }
    }
}
