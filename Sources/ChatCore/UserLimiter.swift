// Per-user admission control shared by every connection of a user: a token bucket for the message
// rate and a counter of generations in flight. A few lines of synchronous state, so a Mutex rather
// than an actor (no suspension while holding it).
import Foundation
import Synchronization

/// Per-user message rate and concurrent generations (DESIGN.md §3 `rate-limited`, `busy`).
public final class UserLimiter: Sendable {
    /// The budgets; `messagesPerMinute` refills continuously, `burst` is the bucket size.
    public struct Budget: Sendable, Equatable {
        public var messagesPerMinute: Double
        public var burst: Double
        public var concurrentGenerations: Int

        public init(messagesPerMinute: Double = 30, burst: Double = 10, concurrentGenerations: Int = 2) {
            self.messagesPerMinute = messagesPerMinute
            self.burst = burst
            self.concurrentGenerations = concurrentGenerations
        }
    }

    private struct Entry {
        var tokens: Double
        var refilled: ContinuousClock.Instant
        var active: Int
    }

    private let budget: Budget
    private let entries = Mutex<[String: Entry]>([:])

    public init(budget: Budget) {
        self.budget = budget
    }

    /// Admits one message from `user` or throws `rate-limited` / `busy`. Pair with `finish(_:)`.
    public func admit(_ user: String, now: ContinuousClock.Instant = .now) throws(ChatFailure) {
        let budget = self.budget
        let verdict: ChatFailure? = entries.withLock { entries in
            var entry = entries[user] ?? Entry(tokens: budget.burst, refilled: now, active: 0)
            let elapsed = now - entry.refilled
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            entry.tokens = min(budget.burst, entry.tokens + seconds * budget.messagesPerMinute / 60)
            entry.refilled = now
            defer { entries[user] = entry }
            if entry.active >= budget.concurrentGenerations {
                return ChatFailure(.busy, "\(budget.concurrentGenerations) replies already in progress; wait for one")
            }
            if entry.tokens < 1 {
                return ChatFailure(.rateLimited, "too many messages; at most \(Int(budget.messagesPerMinute)) a minute")
            }
            entry.tokens -= 1
            entry.active += 1
            return nil
        }
        if let verdict { throw verdict }
    }

    /// Ends a generation admitted by `admit(_:)`.
    public func finish(_ user: String) {
        entries.withLock { entries in
            if var entry = entries[user] {
                entry.active = max(0, entry.active - 1)
                entries[user] = entry
            }
        }
    }
}
