// The audit tamper matrix's outside-anchor cases (issue 17): with the checkpoints also fed to a command
// that appends them to a second directory (`tee -a`, as serve's `audit.checkpoint_command` would),
// `AuditVerifier.verify(checkpointsPath:)` catches what the directory alone cannot: the log's tail cut
// back with the checkpoints that covered it, a checkpoint removed, and the directory rolled back to an
// older copy. Each case is also verified without the copy, to pin down the documented limit. And the
// timer (`AuditLog.run`) checkpoints a quiet log.
import Audit
import Foundation
import Testing

@Suite struct AuditAnchorTests {
    struct Fixture {
        let directory: TemporaryDirectory
        let outside: TemporaryDirectory
        var copy: String { outside.path + "/checkpoints.jsonl" }
        var log: String { directory.path + "/audit.jsonl" }
        var checkpoints: String { directory.path + "/checkpoints.jsonl" }

        init() throws {
            directory = try TemporaryDirectory()
            outside = try TemporaryDirectory("outside")
        }

        func verify(outside: Bool) throws -> AuditVerificationReport {
            try AuditVerifier.verify(
                directory: directory.path, macKey: TestKeys.keys().mac, publicKey: testPublicKey(directory.path),
                checkpointsPath: outside ? copy : nil)
        }

        func lines(_ path: String) throws -> [Substring] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        }

        func write(_ lines: some Sequence<Substring>, to path: String) throws {
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        }

        func remove() {
            directory.remove()
            outside.remove()
        }
    }

    /// A log of 30 records with a checkpoint every 5, each also appended to the outside copy.
    func written() async throws -> Fixture {
        let fixture = try Fixture()
        let log = try await openTestLog(
            fixture.directory.path, every: 5, command: ["/usr/bin/tee", "-a", fixture.copy])
        for seed in 0..<6 { _ = try await log.append(contentsOf: SampleEvents.events(5, seed: UInt64(seed))) }
        try await log.close()
        #expect(try fixture.lines(fixture.copy) == fixture.lines(fixture.checkpoints), "the copy is complete")
        #expect(try fixture.verify(outside: false).isValid)
        #expect(try fixture.verify(outside: true).isValid)
        return fixture
    }

    @Test func tailTruncatedWithItsCheckpoints() async throws {
        let f = try await written()
        defer { f.remove() }
        try f.write(try f.lines(f.log).prefix(20), to: f.log)
        try f.write(try f.lines(f.checkpoints).prefix(4), to: f.checkpoints)
        #expect(try f.verify(outside: false).isValid, "the documented limit without the copy")
        let report = try f.verify(outside: true)
        #expect(report.failure?.file == .outsideCheckpoints && report.failure?.line == 5, "\(report)")
        // Only the log cut (the local checkpoints left): caught even without the copy.
        try f.write(try f.lines(f.copy), to: f.checkpoints)
        #expect(try f.verify(outside: false).failure?.reason.contains("truncated") == true)
    }

    @Test func checkpointRemovedFromTheMiddle() async throws {
        let f = try await written()
        defer { f.remove() }
        var lines = try f.lines(f.checkpoints)
        lines.remove(at: 2)
        try f.write(lines, to: f.checkpoints)
        #expect(try f.verify(outside: false).isValid, "the documented limit without the copy")
        let report = try f.verify(outside: true)
        #expect(report.failure?.file == .outsideCheckpoints && report.failure?.line == 3, "\(report)")
        #expect(report.failure?.reason.contains("missing from checkpoints.jsonl") == true)
    }

    @Test func directoryRolledBackAndGrownAgain() async throws {
        let f = try await written()
        defer { f.remove() }
        // The directory as it was after 10 records, then written on past the copy's newest checkpoint.
        try f.write(try f.lines(f.log).prefix(10), to: f.log)
        try f.write(try f.lines(f.checkpoints).prefix(2), to: f.checkpoints)
        let log = try await openTestLog(f.directory.path, every: 5)
        for seed in 10..<15 { _ = try await log.append(contentsOf: SampleEvents.events(5, seed: UInt64(seed))) }
        try await log.close()
        #expect(try f.lines(f.log).count == 35)
        #expect(try f.verify(outside: false).isValid, "the documented limit without the copy")
        let report = try f.verify(outside: true)
        #expect(report.failure?.file == .outsideCheckpoints && report.failure?.line == 3, "\(report)")
        #expect(report.failure?.reason.contains("different in checkpoints.jsonl") == true, "\(report)")
    }

    @Test func aMissingOrForgedCopyIsNamed() async throws {
        let f = try await written()
        defer { f.remove() }
        var copy = try f.lines(f.copy)
        copy[1] = Substring(copy[1].replacingOccurrences(of: "\"count\":10,", with: "\"count\":11,"))
        try f.write(copy, to: f.copy)
        #expect(try f.verify(outside: true).failure?.file == .outsideCheckpoints)
        try FileManager.default.removeItem(atPath: f.copy)
        #expect(throws: AuditError.self) { try f.verify(outside: true) }
    }

    @Test func theTimerCheckpointsAQuietLog() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keys = try TestKeys.keys()
        let signer = try AuditSigningKey.loadOrCreate(directory: directory.path, sealingKey: keys.signingSeal)
        let log = try await AuditLog(
            directory: directory.path, macKey: keys.mac, signer: signer,
            configuration: .init(checkpointEvery: 1000, checkpointInterval: .milliseconds(200)))
        let timer = Task { try await log.run() }
        defer { timer.cancel() }
        _ = try await log.append(contentsOf: SampleEvents.events(3, seed: 7))
        var covered: UInt64 = 0
        for _ in 0..<100 where covered < 3 {
            try await Task.sleep(for: .milliseconds(100))
            let text = (try? String(contentsOfFile: directory.path + "/checkpoints.jsonl", encoding: .utf8)) ?? ""
            covered =
                text.split(separator: "\n").last.flatMap { line in
                    line.split(separator: ",").first.flatMap { UInt64($0.dropFirst("{\"count\":".count)) }
                } ?? 0
        }
        #expect(covered == 3, "no time-based checkpoint of the quiet log within 10 s")
    }
}
