// The group commit of one `AuditLog`: submitters hand events over without waiting, whatever has gathered
// is written in one locked, fsynced step (`AuditLogWriter.write`), and each submitter later waits for its
// own ticket. A caller can thus start a record, do other durable work on its own thread (the chat server
// commits the message it covers), and find the record already on disk when it asks.
//
// Who writes: `submit` wakes the log's I/O queue, so the write overlaps the caller's other work. A caller
// that comes to wait while its record has not been picked up yet (the I/O thread was slow to be
// scheduled, as an idle virtual CPU often is) writes the batch itself instead of waiting for that
// wake-up. One write runs at a time; records that gather meanwhile go out together in the next.
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
        /// Someone (the I/O queue or a waiting caller) is writing a batch now.
        var writing = false
        var failure: AuditError?
        /// Checkpoints written but not yet handed to the checkpoint command, oldest first.
        var unannounced: [AuditCheckpoint] = []
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

    /// Returns the ticket's sequence number once it is durable; throws if its write failed. If the
    /// ticket's record has not been picked up by a writer yet, writes it (and what came with it) here.
    func durable(_ ticket: AuditTicket) async throws -> UInt64 {
        let (ready, batch) = state.withLock { state -> (Result<UInt64, any Error>?, Batch?) in
            if let ready = state.outcome(of: ticket.value) { return (ready, nil) }
            return (nil, state.writing ? nil : take(&state, withCheckpoints: false))
        }
        if let ready { return try ready.get() }
        if let batch { write(batch, onIOQueue: false) }
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

    /// What one write settles: the waiters of its tickets and the checkpoint requests it served.
    private struct Settled {
        var records: [(continuation: CheckedContinuation<UInt64, any Error>, result: Result<UInt64, any Error>)] = []
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

    /// On the I/O queue: hands new checkpoints to the command and writes batch after batch until nothing
    /// is queued, a write fails, or a waiting caller is writing (which wakes the queue again when it is
    /// done if anything is left).
    private func drain() {
        while true {
            announce()
            let batch = state.withLock { state -> Batch? in
                let batch = state.writing ? nil : take(&state, withCheckpoints: true)
                if batch == nil && state.unannounced.isEmpty { state.kicked = false }
                return batch
            }
            guard let batch else {
                if state.withLock({ $0.kicked }) { continue }
                return
            }
            if !write(batch, onIOQueue: true) {
                state.withLock { $0.kicked = false }
                return
            }
        }
    }

    /// Writes a batch taken by `take` (which marked the queue as writing) and settles its waiters. The
    /// checkpoint command runs only on the I/O queue, in the order the checkpoints were written, before
    /// the checkpoint requests of the batch are answered. Returns false when the write failed.
    @discardableResult
    private func write(_ batch: Batch, onIOQueue: Bool) -> Bool {
        let started = ContinuousClock.now
        let result = Result { try writer.write(batch.events, after: batch.chain, rule: batch.rule) }
        // One fsynced write of the whole batch (the latency every submitter in it waited for the disk).
        Metrics.Timer(label: "enclave_audit_write_seconds").record(duration: ContinuousClock.now - started)
        if case .failure = result { Counter(label: "enclave_audit_write_failures_total").increment() }
        let (settled, kick) = state.withLock { state in
            let settled = finish(&state, batch, result)
            state.writing = false
            let more = !state.pending.isEmpty || !state.checkpointWaiters.isEmpty || !state.unannounced.isEmpty
            return (settled, !onIOQueue && settled.failure == nil && more && claimKick(&state))
        }
        settled.resumeRecords()
        if onIOQueue { announce() }
        settled.resumeCheckpoints()
        if kick { ioQueue.async { self.drain() } }
        return settled.failure == nil
    }

    /// On the I/O queue: hands every checkpoint written so far, oldest first, to the configured command
    /// (the local file already has them).
    private func announce() {
        while let checkpoint = state.withLock({ $0.unannounced.isEmpty ? nil : $0.unannounced.removeFirst() }) {
            guard let command = configuration.checkpointCommand, !command.isEmpty else { continue }
            let succeeded = (try? AuditLog.runCommand(command, input: checkpoint.line + [0x0A])) ?? false
            if !succeeded { state.withLock { $0.commandFailures += 1 } }
        }
    }

    /// Everything queued (the checkpoint requests too, if `withCheckpoints`) as one batch, and the queue
    /// marked as writing; nil when there is nothing to write or the log is poisoned.
    private func take(_ state: inout State, withCheckpoints: Bool) -> Batch? {
        let requests = withCheckpoints ? state.checkpointWaiters : []
        guard state.failure == nil, !state.pending.isEmpty || !requests.isEmpty else { return nil }
        defer {
            state.pending.removeAll(keepingCapacity: true)
            if withCheckpoints { state.checkpointWaiters.removeAll() }
        }
        state.writing = true
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
                state.unannounced.append(checkpoint)
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
