// Failed logins of names that have no account. The store counts failures of real accounts; without a
// count for unknown names too, a lock-out would only ever answer for names that exist, and anyone could
// list the accounts by guessing until one locks. So unknown names lock out by the same rule, and every
// answer is the same for both. The table is bounded (the oldest entries go first), so a flood of random
// names costs bounded memory; a few lines of synchronous state, hence a Mutex.
import Foundation
import Synchronization

final class LoginThrottle: Sendable {
    private struct Entry {
        var failures: Int
        var lockedUntil: Date?
        var touched: Date
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    init(capacity: Int = 10_000) { self.capacity = capacity }

    /// The lock of `name`, if one is in force at `now`.
    func lockedUntil(_ name: String, now: Date) -> Date? {
        entries.withLock { table in table[name]?.lockedUntil.flatMap { $0 > now ? $0 : nil } }
    }

    /// Counts one failure; returns the consecutive failures and whether this one locked the name.
    func fail(_ name: String, now: Date, threshold: Int, duration: TimeInterval) -> (failures: Int, locked: Bool) {
        entries.withLock { table in
            if table[name] == nil, table.count >= capacity,
                let oldest = table.min(by: { $0.value.touched < $1.value.touched })?.key
            {
                table[name] = nil
                table[oldest] = nil
            }
            var entry = table[name] ?? Entry(failures: 0, lockedUntil: nil, touched: now)
            entry.failures += 1
            entry.touched = now
            let locks = entry.failures >= threshold
            if locks {
                entry.lockedUntil = now.addingTimeInterval(duration)
                entry.failures = 0
            }
            table[name] = entry
            return (locks ? threshold : entry.failures, locks)
        }
    }
}

extension ChatCore.Configuration {
    /// The pause after a failed login: nothing for the first `freeFailures`, then `failureDelayStep` more
    /// per consecutive failure, at most `failureDelayCap`. It slows guessing without hurting a typo.
    func failureDelay(afterFailures failures: Int) -> Duration {
        let counted = max(0, failures - freeFailures)
        return min(failureDelayCap, failureDelayStep * counted)
    }
}
