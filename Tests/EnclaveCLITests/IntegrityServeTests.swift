// Issue 17, done-when: tampering by someone who can write the data directory but holds no key, through
// the real `enclave serve` (real model, real socket, real SQLite file edited between runs, real audit
// log). Each tampered row is refused with a server-log line and a `storage.integrity` audit record, no
// other conversation's text is shown, and the other conversations are still served. Then the audit
// log's outside anchor: serve's `audit:` section feeds every checkpoint to `tee -a` on a second
// directory, and `audit verify --checkpoints` against that copy catches tail truncation, a removed
// checkpoint and a rolled-back directory, none of which the directory alone can show.
import Foundation
import Storage
import Testing

@Suite(.serialized) struct IntegrityServeTests {
    /// Runs one `enclave chat` session to its end and returns its output lines.
    func session(_ served: ServedDirectory, _ user: String, _ script: [String], password: String? = nil) throws
        -> [String]
    {
        let (client, output) = try served.chat(script, user: user, password: password ?? "\(user)-password")
        client.waitUntilExit()
        return ServedDirectory.lines(output)
    }

    /// The ids of the conversations `/new` made in a session's output, in order.
    func created(_ lines: [String]) -> [String] {
        lines.filter { $0.hasPrefix("OK conversation=") && !$0.contains(" provider=") }.map {
            String($0.dropFirst("OK conversation=".count))
        }
    }

    func addUser(_ name: String, role: String, in directory: URL) throws {
        let added = try EnclaveBinary.run(
            ["users", "add", name, "--role", role, "--permanent"], stdin: "\(name)-password\n", in: directory)
        #expect(added.status == 0, "\(added.stderr)")
    }

    func verify(_ directory: URL, outside: URL? = nil) throws -> CommandResult {
        try EnclaveBinary.run(
            ["audit", "verify"] + (outside.map { ["--checkpoints", $0.path] } ?? []), in: directory)
    }

    @Test
    func tamperedRowsAreRefusedLoggedAndAuditedAndTheAuditAnchorHolds() throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-outside-\(UUID())")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outside) }
        let copy = outside.appendingPathComponent("checkpoints.jsonl")
        let served = try ServedDirectory(
            users: ["clerk", "nurse", "raised", "gone", "locked"],
            configuration: """
                limits:
                  max_tokens: 4
                  lockout_failures: 2
                audit:
                  checkpoint_every_records: 5
                  checkpoint_every_seconds: 1
                  checkpoint_command: /usr/bin/tee -a \(copy.path)
                  retention_days: 2200
                """)
        #expect(served.port > 0)
        let data = served.directory.appendingPathComponent("data")
        try addUser("officer", role: "compliance", in: served.directory)
        try addUser("officer2", role: "compliance", in: served.directory)
        // A one-time password, used once in run 1: clearing its state in SQL must not make it reusable.
        let oneTime = try EnclaveBinary.run(
            ["users", "add", "temp", "--role", "staff"], stdin: "temp-password-once\n", in: served.directory)
        #expect(oneTime.status == 0, "\(oneTime.stderr)")

        // Run 1: five conversations for the clerk, two for the nurse, a lock-out, an unknown login name.
        var script: [String] = []
        for n in 1...5 { script += ["/new clerk-\(n)", "canary-clerk-\(n)"] }
        let clerk = created(try session(served, "clerk", script))
        let nurse = created(
            try session(served, "nurse", ["/new nurse-1", "canary-nurse-1", "/new nurse-2", "canary-nurse-2"]))
        #expect(clerk.count == 5 && nurse.count == 2)
        for _ in 0..<2 { _ = try session(served, "locked", [], password: "wrong") }
        #expect(try session(served, "locked", []).contains { $0.hasPrefix("ERR locked-out") })
        #expect(try session(served, "typo-name-Hunter2", []).contains { $0.hasPrefix("ERR auth-failed") })
        #expect(
            try session(served, "temp", [], password: "temp-password-once").contains { $0.hasPrefix("OK user=temp") })
        #expect(
            try session(served, "temp", [], password: "temp-password-once").contains { $0.hasPrefix("ERR auth-failed") }
        )
        served.stop()
        #expect(try EnclaveBinary.run(["users", "disable", "gone"], in: served.directory).status == 0)
        let snapshot = outside.appendingPathComponent("audit-snapshot")
        try FileManager.default.copyItem(at: data.appendingPathComponent("audit"), to: snapshot)

        // Between runs, with the file and no key: every kind of tampering the issue names.
        let db = try SQLiteConnection(path: data.appendingPathComponent("enclave.db").path)
        try db.run("UPDATE conversations SET owner = 'nurse' WHERE id = ?", [clerk[0]])
        try db.run("DELETE FROM messages WHERE conversation_id = ? AND seq = 1", [clerk[1]])
        try db.run(
            "UPDATE messages SET conversation_id = ?, seq = 3 WHERE conversation_id = ? AND seq = 2",
            [nurse[0], clerk[2]])
        try db.run("UPDATE messages SET seq = 7 WHERE conversation_id = ? AND seq = 2", [clerk[3]])
        try db.run("UPDATE users SET role = 'compliance' WHERE name = 'raised'")
        let clerkHash = try db.query("SELECT password_hash FROM users WHERE name = 'clerk'").first?[0].string
        try db.run("UPDATE users SET password_hash = ? WHERE name = 'officer2'", [clerkHash])
        try db.run("UPDATE users SET disabled = 0 WHERE name = 'gone'")
        try db.run("UPDATE users SET locked_until = NULL, failed_attempts = 0 WHERE name = 'locked'")
        try db.run("UPDATE users SET must_change_password = 0 WHERE name = 'temp'")

        // `users list` lists every account, marks the damaged ones, and exits 1.
        let listed = try EnclaveBinary.run(["users", "list"], in: served.directory)
        #expect(listed.status == 1, "\(listed.stdout)\(listed.stderr)")
        for damaged in ["gone", "locked", "officer2", "raised", "temp"] {
            #expect(listed.stdout.contains("\(damaged)\t-\t-\tintegrity-failed\n"), "\(damaged): \(listed.stdout)")
        }
        #expect(listed.stdout.contains("nurse\tstaff\t-\tactive\n"), "\(listed.stdout)")

        // Run 2.
        try served.restart()
        #expect(served.port > 0)
        let clerkLines = try session(
            served, "clerk",
            [
                "/list", "/open \(clerk[1])", "/history", "a message to the conversation with a gap",
                "/open \(clerk[0])", "/open \(clerk[4])", "/history",
            ])
        let clerkRows = clerkLines.filter { $0.hasPrefix("= ") }
        #expect(clerkRows.contains { $0.hasPrefix("= \(clerk[4])\tclerk-5\t") })
        #expect(clerkRows.contains { $0.hasPrefix("= \(clerk[1])\tclerk-2\t") }, "a middle gap shows on reading")
        for damaged in [clerk[2], clerk[3]] {
            #expect(clerkRows.contains("= \(damaged)\t-\t-\t-\t-\t-\tintegrity-failed"), "\(clerkLines)")
        }
        #expect(clerkLines.contains("OK conversations=2 damaged=2"), "\(clerkLines)")
        // Reading it and sending to it are both refused as `integrity` naming it, never `internal`.
        #expect(
            clerkLines.filter { $0.hasPrefix("ERR integrity conversation \(clerk[1]) ") }.count == 2, "\(clerkLines)")
        #expect(!clerkLines.contains { $0.hasPrefix("ERR internal") }, "\(clerkLines)")
        #expect(clerkLines.contains { $0.hasPrefix("ERR integrity conversation \(clerk[0]) ") })
        #expect(clerkLines.contains { $0.hasPrefix("= ") && $0.hasSuffix("\tcanary-clerk-5") })

        let nurseLines = try session(
            served, "nurse", ["/list", "/open \(clerk[0])", "/history", "/open \(nurse[1])", "/history"])
        #expect(nurseLines.contains("= \(clerk[0])\t-\t-\t-\t-\t-\tintegrity-failed"), "\(nurseLines)")
        #expect(nurseLines.contains("= \(nurse[0])\t-\t-\t-\t-\t-\tintegrity-failed"), "the moved-in message")
        #expect(nurseLines.contains { $0.hasPrefix("ERR integrity conversation \(clerk[0]) ") })
        #expect(nurseLines.contains { $0.hasPrefix("= ") && $0.hasSuffix("\tcanary-nurse-2") })
        #expect(!nurseLines.contains { $0.contains("canary-clerk") || $0.contains("clerk-1") }, "\(nurseLines)")

        let reused = try session(served, "temp", [], password: "temp-password-once")
        #expect(
            reused.contains("ERR auth-failed unknown user or wrong password"), "a used one-time password: \(reused)")
        for user in ["raised", "gone", "locked"] {
            #expect(try session(served, user, []).contains("ERR auth-failed unknown user or wrong password"), "\(user)")
        }
        let copied = try session(served, "officer2", [], password: "clerk-password")
        #expect(copied.contains("ERR auth-failed unknown user or wrong password"), "a copied hash must not log in")

        // Compliance in chat: /audit verify and /audit report; a failed query is recorded as failed.
        let officer = try session(
            served, "officer",
            ["/audit verify", "/audit report by=user", "/audit nonsense", "/audit action=storage.integrity"])
        #expect(officer.contains("= result\tok"), "\(officer)")
        #expect(officer.contains("= check\tfull"))
        #expect(officer.contains { $0.hasPrefix("= dimension\tkey\tcalls\t") }, "\(officer)")
        #expect(officer.contains { $0.hasPrefix("= user\tclerk\t5\t") }, "the clerk's five calls, by user")
        #expect(officer.contains { $0.hasPrefix("ERR bad-arguments") })
        // The quiet log is anchored by the timer: every record reaches the outside copy within seconds.
        Thread.sleep(forTimeInterval: 3)
        let records = try String(contentsOf: data.appendingPathComponent("audit/audit.jsonl"), encoding: .utf8)
            .split(separator: "\n").count
        let lastCopied = try String(contentsOf: copy, encoding: .utf8).split(separator: "\n").last ?? ""
        #expect(lastCopied.hasPrefix("{\"count\":\(records),"), "\(records) records, copy ends \(lastCopied)")
        // The health listener counts the same failures by kind (never naming a row).
        let printed = try String(contentsOf: served.output, encoding: .utf8)
        let healthPort = printed.range(of: "health on 127.0.0.1:").map {
            Int(printed[$0.upperBound...].prefix(while: \.isNumber)) ?? 0
        }
        let metrics = try httpGet("/metrics", port: healthPort ?? 0).body.split(separator: "\n")
        func integrityFailures(_ kind: String) -> Int {
            let prefix = "enclave_integrity_failures_total{kind=\"\(kind)\"} "
            return metrics.first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }.map(Int.init)
                ?? 0
        }
        served.stop()

        // Server log: one line per refused row, naming it.
        let log = try String(contentsOf: served.directory.appendingPathComponent("serve.err"), encoding: .utf8)
        let logged = log.split(separator: "\n").filter { $0.contains("storage.integrity") }
        for subject in (clerk.prefix(4) + [nurse[0]]).map({ "conversation:\($0)" })
            + ["raised", "officer2", "gone", "locked"].map({ "user:\($0)" })
        {
            #expect(logged.contains { $0.contains(subject) }, "no log line for \(subject)")
        }
        #expect(!log.contains("canary-"))
        let userLines = logged.filter { $0.contains("integrity.subject=user:") }.count
        #expect(integrityFailures("user") == userLines && userLines >= 4, "\(userLines) user lines")
        #expect(integrityFailures("conversation") == logged.count - userLines, "\(logged.count) lines")
        // Client addresses are pseudonymised in the server log by default (as in the audit log).
        let logins = log.split(separator: "\n").filter { $0.contains("session.login") }
        #expect(
            !logins.isEmpty && logins.allSatisfy { $0.contains("session.origin=hmac:") && !$0.contains("127.0.0.1") })
        // Audit log: the same subjects as storage.integrity records; the failed query; no typed name in clear.
        let audit = try EnclaveBinary.run(
            ["audit", "search", "--json", "action=storage.integrity"], in: served.directory)
        for subject in ["conversation:\(clerk[0])", "conversation:\(nurse[0])", "user:raised", "user:officer2"] {
            #expect(audit.stdout.contains("\"subject\":\"\(subject)\""), "no audit record for \(subject)")
        }
        let queries = try EnclaveBinary.run(["audit", "search", "--json", "action=audit.query"], in: served.directory)
        #expect(queries.stdout.contains("\"outcome\":\"failed\""))
        let rawAudit = try String(contentsOf: data.appendingPathComponent("audit/audit.jsonl"), encoding: .utf8)
        #expect(!rawAudit.contains("typo-name-Hunter2") && rawAudit.contains("\"outcome\":\"unknown-user\""))

        // The outside anchor. Untouched, both checks pass.
        let auditDirectory = data.appendingPathComponent("audit")
        #expect(try verify(served.directory).status == 0)
        #expect(try verify(served.directory, outside: copy).status == 0)
        let pristine = outside.appendingPathComponent("audit-pristine")
        try FileManager.default.copyItem(at: auditDirectory, to: pristine)
        func restore() throws {
            try FileManager.default.removeItem(at: auditDirectory)
            try FileManager.default.copyItem(at: pristine, to: auditDirectory)
        }
        let checkpointsFile = auditDirectory.appendingPathComponent("checkpoints.jsonl")
        let logFile = auditDirectory.appendingPathComponent("audit.jsonl")
        let checkpointLines = try String(contentsOf: checkpointsFile, encoding: .utf8).split(separator: "\n")
        #expect(checkpointLines.count >= 4)

        // Rolled back: the run-1 snapshot of the whole directory is self-consistent.
        try FileManager.default.removeItem(at: auditDirectory)
        try FileManager.default.copyItem(at: snapshot, to: auditDirectory)
        #expect(try verify(served.directory).status == 0, "documented limit: the directory alone cannot tell")
        let rolledBack = try verify(served.directory, outside: copy)
        #expect(rolledBack.status == 1 && rolledBack.stdout.contains("rolled back"), "\(rolledBack.stdout)")
        try restore()

        // A checkpoint removed from the middle of the local file (one the copy holds: operator commands
        // such as `users add` also checkpoint, into the directory only).
        let copyLines = try String(contentsOf: copy, encoding: .utf8).split(separator: "\n")
        var fewer = checkpointLines
        fewer.removeAll { $0 == copyLines[copyLines.count / 2] }
        #expect(fewer.count == checkpointLines.count - 1)
        try (fewer.joined(separator: "\n") + "\n").write(to: checkpointsFile, atomically: false, encoding: .utf8)
        #expect(try verify(served.directory).status == 0, "documented limit: the directory alone cannot tell")
        let removed = try verify(served.directory, outside: copy)
        #expect(removed.status == 1 && removed.stdout.contains("missing from checkpoints.jsonl"), "\(removed.stdout)")
        try restore()

        // The tail cut back to an earlier checkpoint, with the checkpoints after it.
        let kept = checkpointLines.count / 2
        let keptCount = Int(checkpointLines[kept - 1].split(separator: ",")[0].dropFirst("{\"count\":".count))!
        let logLines = try String(contentsOf: logFile, encoding: .utf8).split(separator: "\n")
        try (logLines.prefix(keptCount).joined(separator: "\n") + "\n").write(
            to: logFile, atomically: false, encoding: .utf8)
        try (checkpointLines.prefix(kept).joined(separator: "\n") + "\n")
            .write(to: checkpointsFile, atomically: false, encoding: .utf8)
        #expect(try verify(served.directory).status == 0, "documented limit: the directory alone cannot tell")
        let truncated = try verify(served.directory, outside: copy)
        #expect(truncated.status == 1, "\(truncated.stdout)")
        try restore()
        #expect(try verify(served.directory, outside: copy).status == 0)
    }
}
