// An operator changing accounts while `enclave serve` runs, through the real binaries and one real
// database: `enclave users disable|set-role|set-groups|delete` end the user's live session within about
// a second (the server notices another process's commit); failed logins and a lock-out reach the server
// log with their origin and never the typed name, and the lock ends the locked user's session; under a
// service manager the first admin's one-time password goes to a 0600 file, not standard output.
import EnclaveClient
import Foundation
import Testing

@Suite(.serialized) struct LiveAccountTests {
    /// Reads what is left of a session the server is expected to end: the lines up to the close.
    private static func remaining(_ client: ChatLoadClient) -> [String] {
        var lines: [String] = []
        while let line = client.readLine() { lines.append(line) }
        return lines
    }

    @Test func operatorChangesEndTheUsersLiveSessionsWithinASecond() throws {
        let users = ["alice", "bob", "carol", "dave"]
        let served = try ServedDirectory(users: users, configuration: "limits:\n  max_tokens: 8\n")
        defer { served.stop() }
        try #require(served.port > 0)
        var clients: [String: ChatLoadClient] = [:]
        for user in users + ["admin"] {
            let client = try ChatLoadClient(port: served.port, timeout: .seconds(60))
            #expect(client.readBanner())
            let password = user == "admin" ? served.adminPassword : "\(user)-password"
            #expect(client.exchange("/login \(user) \(password)").final?.hasPrefix("OK user=\(user)") == true)
            clients[user] = client
        }
        let changes: [(user: String, command: [String], notice: String)] = [
            ("alice", ["users", "disable", "alice"], "* session ended: your account was disabled"),
            ("bob", ["users", "set-role", "bob", "compliance"], "* session ended: your role changed; log in again"),
            ("carol", ["users", "set-groups", "carol", "ward9"], "* session ended: your groups changed; log in again"),
            ("dave", ["users", "delete", "dave", "--yes"], "* session ended: your account was deleted"),
        ]
        for change in changes {
            let clock = ContinuousClock()
            let start = clock.now
            let result = try EnclaveBinary.run(change.command, in: served.directory)
            let committed = clock.now
            #expect(result.status == 0, "\(change.command): \(result.stderr)")
            let rest = Self.remaining(try #require(clients[change.user]))
            let ended = clock.now
            print(
                "\(change.command.prefix(2).joined(separator: " ")): session ended \(ended - start) after the command "
                    + "started, \(ended - committed) after it exited")
            #expect(rest == [change.notice], "\(change.command): \(rest)")
        }
        // The admin's session, untouched by the others' changes, carries on.
        #expect(clients["admin"]?.exchange("/whoami").final?.hasPrefix("OK user=admin") == true)
    }

    @Test func failedLoginsAndALockOutReachTheServerLogAndTheLockEndsTheSession() throws {
        let served = try ServedDirectory(
            users: ["bob"], configuration: "limits:\n  max_tokens: 8\n  lockout_failures: 3\n")
        defer { served.stop() }
        try #require(served.port > 0)
        let bob = try ChatLoadClient(port: served.port, timeout: .seconds(60))
        #expect(bob.readBanner())
        #expect(bob.exchange("/login bob bob-password").final?.hasPrefix("OK user=bob") == true)

        let guesser = try ChatLoadClient(port: served.port, timeout: .seconds(60))
        #expect(guesser.readBanner())
        // A password typed into the name field must never reach a log.
        #expect(guesser.exchange("/login Typed-Secret-In-Name-Field x").final?.hasPrefix("ERR auth-failed") == true)
        for attempt in 1...3 {
            let answer = guesser.exchange("/login bob wrong-guess-\(attempt)").final ?? ""
            #expect(answer.hasPrefix("ERR auth-failed"), "\(answer)")
        }
        #expect(Self.remaining(bob) == ["* session ended: your account was locked"])
        #expect(guesser.exchange("/login bob bob-password").final?.hasPrefix("ERR locked-out") == true)

        let log = (try? String(contentsOf: served.directory.appendingPathComponent("serve.err"), encoding: .utf8)) ?? ""
        let failures = log.split(separator: "\n").filter { $0.contains("auth.failed") }
        #expect(failures.count >= 4, "\(log)")
        #expect(failures.allSatisfy { $0.contains("session.origin=") }, "\(failures)")
        #expect(log.contains("auth.lockout"), "\(log)")
        #expect(log.contains("session.ended"), "\(log)")
        #expect(
            !log.contains("Typed-Secret-In-Name-Field") && !log.contains("wrong-guess"), "a typed secret was logged")
    }

    @Test func theFirstPasswordCanGoToAFileOnlyItsOwnerReads() throws {
        let served = try ServedDirectory(
            configuration: "server:\n  initial_password_file: first-password.txt\nlimits:\n  max_tokens: 8\n",
            prepare: { directory in
                // A stale, world-readable file of that name is replaced and narrowed, not trusted.
                let stale = directory.appendingPathComponent("first-password.txt")
                try "stale\n".write(to: stale, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: stale.path)
            })
        defer { served.stop() }
        try #require(served.port > 0)
        let file = served.directory.appendingPathComponent("first-password.txt")
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let password = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(password.count == 20)
        let printed = try String(contentsOf: served.output, encoding: .utf8)
        #expect(!printed.contains(password) && printed.contains("first-password.txt"), "\(printed)")
        let client = try ChatLoadClient(port: served.port, timeout: .seconds(60))
        #expect(client.readBanner())
        #expect(client.exchange("/login admin \(password)").final == "OK user=admin role=admin")
    }
}
