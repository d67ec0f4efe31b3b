// AuditLog.submit / durable: a record starts on the log's own thread at `submit` and counts once
// `durable` returns. The file is the oracle: each ticket's sequence number must be the one its event got
// on disk, the log's order must be the order of `submit`, and a failed write must fail every ticket not
// yet on disk.
import EnclaveCrypto
import Foundation
import Testing

@testable import Audit

@Suite struct AuditSubmitTests {
    /// Sequence number → subject, as written in the file.
    private func subjects(_ directory: TemporaryDirectory) throws -> [UInt64: String] {
        let text = try String(contentsOfFile: directory.file("audit.jsonl"), encoding: .utf8)
        var found: [UInt64: String] = [:]
        for line in text.split(separator: "\n") {
            let record = try AuditRecord(line: Array(line.utf8)[...])
            found[record.seq] = record.event.subject
        }
        return found
    }

    private func event(_ subject: String) -> AuditEvent {
        AuditEvent(actor: "alice", role: "staff", origin: "192.0.2.1", action: "model.decision", subject: subject)
    }

    @Test func recordsGoOutInSubmitOrderAndATicketNamesItsOwnRecord() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        let names = (0..<50).map { _ in "conversation:\(UUID().uuidString)" }
        let tickets = try names.map { try log.submit(event($0)) }
        // Waited for in another order than submitted, some long after they were written.
        var seqs: [String: UInt64] = [:]
        for index in tickets.indices.reversed() { seqs[names[index]] = try await log.durable(tickets[index]) }
        let onDisk = try subjects(directory)
        #expect(onDisk.count == 50)
        for (offset, name) in names.enumerated() {
            #expect(onDisk[UInt64(offset + 1)] == name, "record \(offset + 1) is not the \(offset + 1)th submitted")
            #expect(seqs[name].map { onDisk[$0] } == name)
        }
    }

    @Test func ticketsStayTrueWhenAnotherProcessAppendsBetweenWrites() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        let keys = try TestKeys.keys()
        let signer = try AuditSigningKey.loadOrCreate(directory: directory.path, sealingKey: keys.signingSeal)
        var expected: [AuditTicket: String] = [:]
        for round in 0..<4 {
            let name = "conversation:round-\(round)"
            let ticket = try log.submit(event(name))
            _ = try await log.durable(ticket)
            expected[ticket] = name
            // An operator command writes the log directly, moving the sequence numbers on.
            _ = try AuditLog.appendOnce(
                (0...round).map { event("operator-\(round)-\($0)") }, directory: directory.path, macKey: keys.mac,
                signer: signer)
        }
        let onDisk = try subjects(directory)
        for (ticket, name) in expected {
            let seq = try await log.durable(ticket)
            #expect(onDisk[seq] == name)
        }
        let operatorRecords = 1 + 2 + 3 + 4
        #expect(onDisk.count == 4 + operatorRecords)
    }

    @Test func concurrentSubmittersEachGetTheirOwnRecord() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path, every: 64)
        let results = try await withThrowingTaskGroup(of: (String, UInt64).self) { group in
            for index in 0..<300 {
                group.addTask {
                    let name = "conversation:\(index)"
                    let ticket = try log.submit(event(name))
                    if index % 3 == 0 { await Task.yield() }
                    return (name, try await log.durable(ticket))
                }
            }
            return try await group.reduce(into: [(String, UInt64)]()) { $0.append($1) }
        }
        let onDisk = try subjects(directory)
        #expect(Set(results.map(\.1)) == Set(1...300))
        for (name, seq) in results { #expect(onDisk[seq] == name) }
    }

    @Test func severalEventsAppendedTogetherGoOutInOneWrite() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A checkpoint after every write: one write, one checkpoint.
        let log = try await openTestLog(directory.path, every: 1)
        let names = (0..<20).map { "conversation:batch-\($0)" }
        let seqs = try await log.append(contentsOf: names.map(event))
        #expect(seqs == Array(1...20))
        let onDisk = try subjects(directory)
        for (offset, name) in names.enumerated() { #expect(onDisk[UInt64(offset + 1)] == name) }
        let checkpoints = try String(contentsOfFile: directory.file("checkpoints.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        #expect(checkpoints.count == 1)
    }

    @Test func aSlowCheckpointCommandDoesNotHoldRecordsBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Every record brings a checkpoint, and the checkpoint command does not finish until the test
        // creates `go`, or 300 s have passed, so that a wrong implementation fails instead of hanging. The
        // bound is wide because a starved CI run once took over 60 s to hand the second record back.
        let go = directory.file("go")
        let finished = directory.file("command-finished")
        let command =
            "cat >/dev/null; n=0; while [ ! -e '\(go)' ] && [ $n -lt 1500 ]; do sleep 0.2; n=$((n+1)); done; "
            + "touch '\(finished)'"
        let log = try await openTestLog(directory.path, every: 1, command: ["/bin/sh", "-c", command])
        defer { _ = FileManager.default.createFile(atPath: go, contents: nil) }
        _ = try await log.append(event("conversation:first"))
        let ticket = try log.submit(event("conversation:second"))
        let seq = try await log.durable(ticket)
        // Had the second write waited for the first checkpoint's command, that command would have finished.
        #expect(!FileManager.default.fileExists(atPath: finished))
        #expect(try subjects(directory)[seq] == "conversation:second")
    }

    @Test func aFailedWriteFailsEveryTicketNotYetOnDisk() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try await openTestLog(directory.path)
        let first = try log.submit(event("conversation:before"))
        #expect(try await log.durable(first) == 1)
        try FileManager.default.removeItem(atPath: directory.file("audit.jsonl"))
        // The first write after the removal fails; records submitted before the failure is known fail when
        // waited for, and those submitted after it at once.
        let doomed = try log.submit(event("conversation:lost-0"))
        var refused = 0
        for index in 1..<20 {
            do {
                let ticket = try log.submit(event("conversation:lost-\(index)"))
                await #expect(throws: AuditError.self) { _ = try await log.durable(ticket) }
            } catch is AuditError {
                refused += 1
            }
        }
        await #expect(throws: AuditError.self) { _ = try await log.durable(doomed) }
        #expect(refused >= 18, "once a write has failed, submit must refuse")
        #expect(throws: AuditError.self) { _ = try log.submit(event("conversation:after")) }
        // What was durable before the failure stays so.
        #expect(try await log.durable(first) == 1)
        await #expect(throws: AuditError.self) { try await log.checkpoint(force: true) }
    }
}
