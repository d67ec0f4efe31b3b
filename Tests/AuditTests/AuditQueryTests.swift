// AuditQuery, AuditReader, AuditExporter and AuditReport over a seeded log; the expected answers are
// computed here straight from the generated events, not through the code under test.
import Foundation
import Testing
@testable import Audit

@Suite struct AuditQueryTests {
    static let count = 300

    private func makeLog() async throws -> (TemporaryDirectory, [AuditEvent]) {
        let directory = try TemporaryDirectory("query")
        let log = try await openTestLog(directory.path)
        var events = SampleEvents.events(Self.count, seed: 21)
        events.append(AuditEvent(
            time: UTCMillis(1_795_923_600_000 + 400_000), actor: "eve", role: "staff", origin: "10.9.9.9",
            action: AuditAction.modelDecision, subject: "c7",
            call: ModelCallFields(modelID: "", promptVersion: "default.v1", provider: "", residency: "",
                                  decision: "blocked", rule: "phi-on-prem-only", tags: ["phi"])))
        _ = try await log.append(contentsOf: events)
        return (directory, events)
    }

    @Test func searchFiltersByEveryField() async throws {
        let (directory, events) = try await makeLog()
        defer { directory.remove() }
        func expectSearch(_ words: [String], _ predicate: (AuditEvent) -> Bool) throws {
            let query = try AuditQuery(words: words)
            let found = try AuditReader.search(directory: directory.path, query: query)
            let expected = events.enumerated().filter { predicate($0.element) }.map { UInt64($0.offset + 1) }
            #expect(found.map(\.seq) == expected, "\(words)")
        }
        try expectSearch(["user=alice"]) { $0.actor == "alice" }
        try expectSearch(["action=auth."]) { $0.action.hasPrefix("auth.") }
        try expectSearch(["action=model.call", "provider=azure"]) { $0.action == "model.call" && $0.call?.provider == "azure" }
        try expectSearch(["model=gpt-4o", "arm=control"]) { $0.call?.modelID == "gpt-4o" && $0.call?.canaryArm == "control" }
        try expectSearch(["tag=finance"]) { $0.call?.tags.contains("finance") == true }
        try expectSearch(["decision=blocked"]) { $0.call?.decision == "blocked" }
        try expectSearch(["from=2026-11-29T03:41:40Z", "to=2026-11-29T03:43:20Z"]) {
            $0.time.value >= 1_795_923_700_000 && $0.time.value < 1_795_923_800_000
        }
        let limited = try AuditReader.search(directory: directory.path, query: AuditQuery(words: ["user=bob", "limit=3"]))
        let bobs = events.enumerated().filter { $0.element.actor == "bob" }.map { UInt64($0.offset + 1) }
        #expect(limited.map(\.seq) == Array(bobs.suffix(3)))
        #expect(throws: AuditError.self) { try AuditQuery(words: ["colour=red"]) }
        #expect(throws: AuditError.self) { try AuditQuery(words: ["from=yesterday"]) }
    }

    @Test func rowsAreTabSafe() {
        let event = AuditEvent(actor: "a\tb", role: "staff", action: "auth.login", subject: "x\r\ny")
        let row = AuditReader.row(AuditRecord(seq: 1, event: event, prev: "", mac: ""))
        #expect(row.count == AuditReader.rowHeader.count)
        #expect(row[2] == "a b" && row[6] == "x  y")
        #expect(!row.joined().contains("\t"))
    }

    @Test func exportsJSONLinesVerbatimAndCSV() async throws {
        let (directory, events) = try await makeLog()
        defer { directory.remove() }
        var jsonl: [UInt8] = []
        let written = try AuditExporter.export(directory: directory.path, format: .jsonl) { jsonl += $0 }
        #expect(written == events.count)
        #expect(jsonl == Array(try Data(contentsOf: URL(fileURLWithPath: directory.file("audit.jsonl")))))

        var csv: [UInt8] = []
        let query = try AuditQuery(words: ["user=carol"])
        let rows = try AuditExporter.export(directory: directory.path, query: query, format: .csv) { csv += $0 }
        let lines = String(decoding: csv, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(rows == events.filter { $0.actor == "carol" }.count)
        #expect(lines.count == rows + 1)
        #expect(lines[0].hasPrefix("seq,time,actor,role,origin,action,"))
        #expect(lines[1].split(separator: ",", omittingEmptySubsequences: false).count == AuditRecord.fieldOrder.count)
    }

    @Test func csvCellsAreQuotedAndDefused() {
        #expect(AuditExporter.csvCell("plain") == "plain")
        #expect(AuditExporter.csvCell("a,b") == "\"a,b\"")
        #expect(AuditExporter.csvCell("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(AuditExporter.csvCell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(AuditExporter.csvCell("@sum") == "'@sum")
    }

    @Test func reportTotalsMatchTheEvents() async throws {
        let (directory, events) = try await makeLog()
        defer { directory.remove() }
        let report = try AuditReport.compute(directory: directory.path)
        let calls = events.filter { $0.action == AuditAction.modelCall }
        for provider in ["local", "azure"] {
            let mine = calls.filter { $0.call?.provider == provider }
            let line = try #require(report.lines(by: .provider).first { $0.key == provider })
            #expect(line.calls == mine.count)
            #expect(line.tokensIn == mine.reduce(0) { $0 + $1.call!.tokensIn! })
            #expect(line.tokensOut == mine.reduce(0) { $0 + $1.call!.tokensOut! })
            #expect(line.costMicros == mine.reduce(0) { $0 + $1.call!.costMicros! })
            #expect(line.arms["control"] == mine.filter { $0.call?.canaryArm == "control" }.count)
            #expect(line.errors == 0 && line.blocked == 0)
        }
        let eve = try #require(report.lines(by: .user).first { $0.key == "eve" })
        #expect(eve.blocked == 1 && eve.calls == 0)
        let prompts = report.lines(by: .prompt).map(\.key)
        #expect(prompts == ["default.v1", "default.v2"])
        let rows = report.rows(by: .model)
        #expect(rows.allSatisfy { $0.count == AuditReport.header.count })
        #expect(rows.map { $0[1] } == ["-", "SmolLM2-135M-Instruct-Q4_1", "gpt-4o"])
    }
}
