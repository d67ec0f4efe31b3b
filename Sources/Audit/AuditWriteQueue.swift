// The group commit of one `AuditLog`: submitters hand events over without waiting, whatever has gathered
// is written in one locked, fsynced step (`AuditLogWriter.write`), and each submitter later waits for its
// own ticket. A caller can thus start a record, do other durable work on its own thread (the chat server
// commits the message it covers), and find the record already on disk when it asks.
//
// Who writes: only the log's I/O queue. `submit` wakes it, so the write overlaps the caller's other work;
// a caller that comes to wait suspends until its ticket is written, so no write, lock or fsync ever runs
// on the caller's thread (the chat server's callers are on the cooperative pool). One write runs at a
// time; records that gather meanwhile go out together in the next. The checkpoint command (an external
// program, perhaps slow) runs on a queue of its own, so it never holds records back.
//
// Tickets are numbered in submission order and written in that order, so the log's order is the order
// of `submit`. A failed write poisons the queue: every waiting and later ticket throws (fail closed).
import Foundation
import Metrics
import Synchronization

/// A submitted record's place in the queue; `AuditLog.durable(_:)` turns it into a sequence number.
public struct AuditTicket: Sendable, Hashable {
    let value: UInt64
}

/// Tickets, batches, waiters and the chain's end, shared by submitters and the I/O queue.
final class AuditWriteQueue: Sendable {
    private struct State {
        var pending: [AuditEvent] = []
        var nextTicket: UInt64 = 1
        /// Every ticket up to this one is durable.
        var writtenTicket: UInt64 = 0
        /// `seq - ticket` from each ticket on (changes only when another process appended, or a torn
        /// tail was repaired), so a written ticket's sequence number needs no table per record.
        var deltas: [(from: UInt64, delta: Int64)] = []
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<UInt64, any Error>)] = []
        var checkpointWaiters: [(force: Bool, continuation: CheckedContinuation<Void, any Error>)] = []
        var chain: ChainState
        var lastCheckpointCount: UInt64
        var lastCheckpointTime: UTCMillis
        /// A drain is queued or running on the I/O queue.
        var kicked = false
        var failure: AuditError?
        var commandFailures = 0

        /// The sequence number of a written ticket.
        func seq(of ticket: UInt64) -> UInt64 {
            let delta = deltas.last(where: { $0.from <= ticket })?.delta ?? 0
            return UInt64(Int64(ticket) + delta)
        }

        /// A written ticket's sequence number, the failure that stops an unwritten one, or nil to wait.
        func outcome(of ticket: UInt64) -> Result<UInt64, any Error>? {
            if ticket <= writtenTicket { return .success(seq(of: ticket)) }
            if let failure { return .failure(AuditError.unavailable("audit write failed: \(failure)")) }
            return nil
        }
    }

    private let state: Mutex<State>
    private let writer: AuditLogWriter
    private let configuration: AuditLog.Configuration
    private let ioQueue = DispatchQueue(label: "enclave.audit.io")
    /// Hands checkpoints to the checkpoint command, in the order they were written.
    private let commandQueue = DispatchQueue(label: "enclave.audit.checkpoint-command")

    init(
        writer: AuditLogWriter, chain: ChainState, lastCheckpoint: (count: UInt64, time: UTCMillis),
        configuration: AuditLog.Configuration
    ) {
        self.writer = writer
        self.configuration = configuration
        state = Mutex(
            State(chain: chain, lastCheckpointCount: lastCheckpoint.count, lastCheckpointTime: lastCheckpoint.time))
    }

    /// The number of durable records (as of this process's last write or look).
    var count: UInt64 { state.withLock { $0.chain.lastSeq } }

    /// How many times the checkpoint command failed.
    var commandFailures: Int { state.withLock { $0.commandFailures } }

    /// The write failure that poisoned the queue, if one did.
    var failure: AuditError? { state.withLock { $0.failure } }

    /// Queues `events` (origins already pseudonymised) together, so that one write takes them all, and
    /// wakes the I/O queue to write them. Returns their tickets in order.
    /// - Throws: `AuditError.unavailable` once a write has failed.
    func submit(_ events: [AuditEvent]) throws -> [AuditTicket] {
        let (first, kick) = try state.withLock { state throws -> (UInt64, Bool) in
            if let failure = state.failure {
                throw AuditError.unavailable("an earlier audit write failed (\(failure)); reopen the log")
            }
            state.pending += events
            defer { state.nextTicket += UInt64(events.count) }
            return (state.nextTicket, claimKick(&state))
        }
        if kick { ioQueue.async { self.drain() } }
        return events.indices.map { AuditTicket(value: first + UInt64($0)) }
    }

    /// Returns the ticket's sequence number once it is durable; throws if its write failed.
    func durable(_ ticket: AuditTicket) async throws -> UInt64 {
        if let ready = state.withLock({ $0.outcome(of: ticket.value) }) { return try ready.get() }
        return try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<UInt64, any Error>? in
                if let ready = state.outcome(of: ticket.value) { return ready }
                state.waiters.append((ticket.value, continuation))
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// Writes what is queued and then a checkpoint if one is due (or `force`); returns when done.
    func checkpoint(force: Bool) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> (failure: AuditError?, kick: Bool) in
                if let failure = state.failure { return (failure, false) }
                state.checkpointWaiters.append((force, continuation))
                return (nil, claimKick(&state))
            }
            if let failure = outcome.failure {
                continuation.resume(throwing: AuditError.unavailable("audit write failed: \(failure)"))
            } else if outcome.kick {
                ioQueue.async { self.drain() }
            }
        }
    }

    /// True when the caller must wake the I/O queue (no drain is queued or running).
    private func claimKick(_ state: inout State) -> Bool {
        if state.kicked { return false }
        state.kicked = true
        return true
    }

    /// What one write settles: the waiters of its tickets, the checkpoint it made (if any) and the
    /// checkpoint requests it served.
    private struct Settled {
        var records: [(continuation: CheckedContinuation<UInt64, any Error>, result: Result<UInt64, any Error>)] = []
        var checkpoint: AuditCheckpoint?
        var checkpoints: [CheckedContinuation<Void, any Error>] = []
        var failure: AuditError?

        func resumeRecords() {
            for record in records { record.continuation.resume(with: record.result) }
        }

        func resumeCheckpoints() {
            for request in checkpoints {
                if let failure { request.resume(throwing: failure) } else { request.resume() }
            }
        }
    }

    /// One batch taken off the queue.
    private struct Batch {
        var events: [AuditEvent]
        var firstTicket: UInt64
        var rule: CheckpointRule
        var chain: ChainState
        var checkpoints: [CheckedContinuation<Void, any Error>]
    }

    /// On the I/O queue: writes batch after batch until nothing is queued or a write fails.
    private func drain() {
        while true {
            let batch = state.withLock { state -> Batch? in
                let batch = take(&state)
                if batch == nil { state.kicked = false }
                return batch
            }
            guard let batch, write(batch) else { return }
        }
    }

    /// On the I/O queue: writes a batch taken by `take` and settles its records' waiters. A checkpoint
    /// the write made goes to the checkpoint command's queue, and the batch's checkpoint requests are
    /// answered there, after the command had it. Returns false when the write failed.
    private func write(_ batch: Batch) -> Bool {
        let started = ContinuousClock.now
        let result = Result { try writer.write(batch.events, after: batch.chain, rule: batch.rule) }
        // One fsynced write of the whole batch (the latency every submitter in it waited for the disk).
        Metrics.Timer(label: "enclave_audit_write_seconds").record(duration: ContinuousClock.now - started)
        if case .failure = result { Counter(label: "enclave_audit_write_failures_total").increment() }
        let settled = state.withLock { finish(&$0, batch, result) }
        settled.resumeRecords()
        if settled.checkpoint != nil || !settled.checkpoints.isEmpty {
            commandQueue.async {
                if let checkpoint = settled.checkpoint { self.announce(checkpoint) }
                settled.resumeCheckpoints()
            }
        }
        if settled.failure != nil { state.withLock { $0.kicked = false } }
        return settled.failure == nil
    }

    /// On the checkpoint command's queue: hands a written checkpoint to the configured command (the local
    /// file already has it).
    private func announce(_ checkpoint: AuditCheckpoint) {
        guard let command = configuration.checkpointCommand, !command.isEmpty else { return }
        let succeeded = (try? AuditLog.runCommand(command, input: checkpoint.line + [0x0A])) ?? false
        if !succeeded { state.withLock { $0.commandFailures += 1 } }
    }

    /// Everything queued, with the checkpoint requests, as one batch; nil when there is nothing to write
    /// or the log is poisoned.
    private func take(_ state: inout State) -> Batch? {
        let requests = state.checkpointWaiters
        guard state.failure == nil, !state.pending.isEmpty || !requests.isEmpty else { return nil }
        defer {
            state.pending.removeAll(keepingCapacity: true)
            state.checkpointWaiters.removeAll()
        }
        let rule = CheckpointRule(
            lastCount: state.lastCheckpointCount, lastTime: state.lastCheckpointTime,
            every: configuration.checkpointEvery,
            interval: configuration.checkpointInterval, force: requests.contains(where: \.force))
        return Batch(
            events: state.pending, firstTicket: state.writtenTicket + 1, rule: rule, chain: state.chain,
            checkpoints: requests.map(\.continuation))
    }

    /// Records a write's result and returns what it settles. A failure poisons the queue and settles
    /// every waiter, since nothing more will be written.
    private func finish(_ state: inout State, _ batch: Batch, _ result: Result<WriteOutcome, any Error>) -> Settled {
        var settled = Settled(checkpoints: batch.checkpoints)
        switch result {
        case .success(let outcome):
            state.chain = outcome.state
            if let firstSeq = outcome.seqs.first {
                let delta = Int64(firstSeq) - Int64(batch.firstTicket)
                if delta != (state.deltas.last?.delta ?? 0) { state.deltas.append((batch.firstTicket, delta)) }
            }
            state.writtenTicket += UInt64(batch.events.count)
            if let checkpoint = outcome.checkpoint {
                state.lastCheckpointCount = checkpoint.count
                state.lastCheckpointTime = checkpoint.time
                settled.checkpoint = checkpoint
            }
            let written = state.writtenTicket
            for waiter in state.waiters where waiter.ticket <= written {
                settled.records.append((waiter.continuation, .success(state.seq(of: waiter.ticket))))
            }
            state.waiters.removeAll { $0.ticket <= written }
        case .failure(let error):
            let reason = (error as? AuditError) ?? AuditError.unavailable("\(error)")
            state.failure = reason
            settled.failure = reason
            let failed = AuditError.unavailable("audit write failed: \(reason)")
            settled.records = state.waiters.map { ($0.continuation, .failure(failed)) }
            settled.checkpoints += state.checkpointWaiters.map(\.continuation)
            state.waiters.removeAll()
            state.checkpointWaiters.removeAll()
            state.pending.removeAll()
        }
        return settled
    }
}
