// The plan walk these Routing tests drive: `ProviderGateway`'s plan, `prepare` and `CallStream`, in the
// order ChatCore's send loop uses them, with observers in place of its durable writes (each attempt's record
// before the call, which may refuse it by throwing, and after it). Test support only: the product's one
// walk is ChatCore's `deliver`.
import Inference
import Routing

extension ProviderGateway {
    /// Serves one message along `plan` with nothing between the steps but the caller's observers: each
    /// prepared attempt's record goes to `beforeCall` (which may refuse it by throwing) and each finished
    /// one to `afterCall`.
    /// - Throws: ``CallFailure`` when every candidate failed; whatever `beforeCall` throws; `CancellationError`.
    func run(
        plan: RoutePlan, history: [ChatTurn], message: String, maxTokens: Int,
        sampling: SamplingParameters? = nil,
        beforeCall: (CallRecord) async throws -> Void,
        afterCall: (CallRecord) async -> Void,
        onText: (String) async throws -> Void
    ) async throws -> CallResult {
        var records: [CallRecord] = []
        var lastError = RoutingError.providerUnavailable(reason: "no provider in the plan")
        for attempt in plan.candidates.indices {
            guard
                let prepared = prepare(
                    plan, attempt: attempt, history: history, message: message, maxTokens: maxTokens, sampling: sampling
                )
            else { continue }
            if let failure = prepared.failure {
                await afterCall(prepared.record)
                records.append(prepared.record)
                lastError = failure
                continue
            }
            try await beforeCall(prepared.record)
            let stream = prepared.open()
            while let piece = await stream.next() {
                do {
                    try await onText(piece)
                } catch {
                    stream.stop((error as? CallStop)?.reason ?? "disconnected")
                }
            }
            let record = stream.finish().record
            await afterCall(record)
            records.append(record)
            switch record.outcome {
            case .ok:
                return CallResult(
                    record: record, failures: Array(records.dropLast()), reply: stream.reply, stop: stream.stopReason)
            case .cancelled:
                throw CancellationError()
            case .failed, .started:
                lastError = stream.failure
                if !stream.mayFallBack {
                    throw CallFailure(error: lastError, records: records, partialText: stream.reply)
                }
            }
        }
        throw CallFailure(error: lastError, records: records, partialText: "")
    }
}

/// The result of a message served by `ProviderGateway.run`.
struct CallResult: Sendable {
    /// The record of the attempt that answered.
    var record: CallRecord
    /// Records of the failed attempts before it, in order.
    var failures: [CallRecord]
    /// The whole reply (the caller seals and stores it).
    var reply: String
    /// Why the reply was cut short by the caller (``CallStop``), nil when it ran to its end.
    var stop: String?
}

/// Thrown by a `run` caller's `onText` to stop a call early (`disconnected`, `shutdown`); the call keeps
/// what was produced and counts as served.
struct CallStop: Error, Sendable, Equatable {
    var reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}

/// Why a message served by `run` failed after routing succeeded.
struct CallFailure: Error, Sendable {
    /// What the user is told (`provider-unavailable` or `bad-arguments`).
    var error: RoutingError
    /// Every attempt's record, in order.
    var records: [CallRecord]
    /// Whether part of a reply already reached the user.
    var partialReply: Bool { !partialText.isEmpty }
    /// The text that reached the user before the failure (empty if none).
    var partialText: String
}
