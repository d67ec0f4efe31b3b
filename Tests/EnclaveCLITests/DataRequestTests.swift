// A person's data on request, through the real binary against a real `enclave serve` data directory:
// `users export` writes every message of the person's conversations (byte-identical to `/history`,
// protocol escaping undone), mode 0600, audited without content; `users erase` is refused while a legal
// hold applies and, once it is lifted, crypto-shreds everything and keeps the audit trail, which still
// verifies and never held the text. `audit prune` is refused under the hold and runs beside the server
// once it is lifted.
import Foundation
import Testing

@Suite(.serialized) struct DataRequestTests {
    /// PROTOCOL.md's escaping of a `= ` row field (backslash first, so no escape is escaped again).
    static func escaped(_ text: String) -> String {
        [("\\", "\\\\"), ("\t", "\\t"), ("\r", "\\r"), ("\n", "\\n")].reduce(text) {
            $0.replacingOccurrences(of: $1.0, with: $1.1)
        }
    }

    @Test func exportThenEraseRoundTripAndAnEraseRefusedUnderHold() throws {
        let served = try ServedDirectory(users: ["dana"], configuration: "limits:\n  max_tokens: 6\n")
        defer { served.stop() }
        try #require(served.port > 0)
        let texts = [
            "first question NEEDLE-4411", "/new second", "second question NEEDLE-4412",
            "/feedback down wrong answer NEEDLE-4413",
        ]
        let (client, output) = try served.chat(
            texts + ["/list", "/history", "/quit"], user: "dana", password: "dana-password")
        client.waitUntilExit()
        let lines = ServedDirectory.lines(output)
        let history = lines.filter { $0.hasPrefix("= ") && $0.split(separator: "\t").count == 4 }
        #expect(history.count == 2, "\(lines)")

        let out = served.directory.appendingPathComponent("dana.jsonl")
        let exported = try EnclaveBinary.run(["users", "export", "dana", "--out", out.path], in: served.directory)
        #expect(exported.status == 0, "\(exported.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: out.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let objects = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 5)
        let feedback = objects.filter { $0["type"] as? String == "feedback" }
        #expect(feedback.count == 1 && feedback.first?["feedback"] as? String == "down")
        #expect(feedback.first?["comment"] as? String == "wrong answer NEEDLE-4413")
        #expect(objects.filter { $0["type"] as? String == "message" }.count == 4)
        #expect(Set(objects.compactMap { $0["conversation"] as? String }).count == 2)
        let userTexts = objects.filter { $0["role"] as? String == "user" }.compactMap { $0["text"] as? String }
        #expect(userTexts.sorted() == ["first question NEEDLE-4411", "second question NEEDLE-4412"])
        #expect(objects.contains { $0["title"] as? String == "second" })
        // The open conversation's /history rows, field by field, against the export.
        for row in history {
            let fields = row.dropFirst(2).split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            #expect(
                objects.contains {
                    ($0["seq"] as? Int).map(String.init) == fields[0] && $0["role"] as? String == fields[1]
                        && ($0["text"] as? String).map(Self.escaped) == fields[3]
                }, "\(row)")
        }
        let again = try EnclaveBinary.run(["users", "export", "dana", "--out", out.path], in: served.directory)
        #expect(again.status != 0)

        let held = try EnclaveBinary.run(
            ["hold", "add", "--user", "dana"], stdin: "case 2026-CV-17 REASON-NEEDLE\n", in: served.directory)
        #expect(held.status == 0, "\(held.stderr)")
        let holdID = try #require(held.stdout.split(separator: " ").dropFirst().first.map(String.init))
        let refused = try EnclaveBinary.run(["users", "erase", "dana", "--yes"], in: served.directory)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("held") && refused.stderr.contains(holdID))
        let listed = try EnclaveBinary.run(["hold", "list"], in: served.directory)
        #expect(listed.stdout.contains("user\tdana") && listed.stdout.contains("case 2026-CV-17 REASON-NEEDLE"))
        // The person's own `/delete` is refused too, as `forbidden`, naming neither hold nor reason.
        let conversation = try #require(
            lines.first { $0.hasPrefix("= ") && $0.contains("\tsecond\t") }?.dropFirst(2).prefix(20))
        let (deleting, deleteOutput) = try served.chat(
            ["/delete \(conversation)", "/quit"], user: "dana", password: "dana-password")
        deleting.waitUntilExit()
        let refusal = ServedDirectory.lines(deleteOutput).first { $0.hasPrefix("ERR ") } ?? ""
        #expect(refusal.hasPrefix("ERR forbidden") && !refusal.contains("REASON") && !refusal.contains(holdID))
        let stillThere = try EnclaveBinary.run(["users", "list"], in: served.directory)
        #expect(stillThere.stdout.contains("dana\t"))

        // The audit log's own retention waits while a hold applies (its records are evidence too).
        let pruneHeld = try EnclaveBinary.run(["audit", "prune", "--days", "1"], in: served.directory)
        #expect(pruneHeld.status != 0 && pruneHeld.stderr.contains("legal hold"), "\(pruneHeld.stderr)")

        #expect(try EnclaveBinary.run(["hold", "remove", holdID], in: served.directory).status == 0)
        // Without a hold it runs beside the server; every record here is younger than a day, so none goes.
        let prune = try EnclaveBinary.run(["audit", "prune", "--days", "1"], in: served.directory)
        #expect(prune.status == 0 && prune.stdout.contains("nothing removed"), "\(prune.stdout)\(prune.stderr)")
        let erased = try EnclaveBinary.run(["users", "erase", "dana", "--yes"], in: served.directory)
        #expect(erased.status == 0, "\(erased.stderr)")
        #expect(erased.stdout.contains("crypto-shredded 2 conversation(s)"))
        #expect(!(try EnclaveBinary.run(["users", "list"], in: served.directory)).stdout.contains("dana\t"))
        #expect(
            try EnclaveBinary.run(["users", "export", "dana", "--out", out.path + "2"], in: served.directory).status
                != 0)

        // The audit trail: every step recorded, none of the text or the hold's reason, and it verifies.
        let audit = try String(
            contentsOf: served.directory.appendingPathComponent("data/audit/audit.jsonl"), encoding: .utf8)
        for action in ["user.export", "hold.add", "hold.remove", "user.erase"] {
            #expect(audit.contains("\"action\":\"\(action)\""), "\(action) not audited")
        }
        #expect(!audit.contains("NEEDLE"))
        #expect(audit.components(separatedBy: "\"action\":\"user.erase\"").count == 2)
        let verified = try EnclaveBinary.run(["audit", "verify"], in: served.directory)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let database = try Data(contentsOf: served.directory.appendingPathComponent("data/enclave.db"))
        #expect(database.range(of: Data("NEEDLE".utf8)) == nil)
    }
}
