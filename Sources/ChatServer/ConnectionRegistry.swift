// The set of open connections: enforces the total and per-address limits and coordinates graceful
// shutdown with the sessions (an idle connection is closed at once; a busy one finishes its line).
import ChatCore
import NIOCore
import Synchronization

/// Open connections, counted per peer address, behind one mutex.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        var channel: any Channel
        var state: ConnectionState
    }

    private struct Contents {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perAddress: [String: Int] = [:]
        var shuttingDown = false
    }

    private let contents = Mutex(Contents())

    /// Registers a connection unless a limit is reached (or shutdown has begun).
    func admit(_ channel: any Channel, state: ConnectionState, address: String, total: Int, perAddress: Int) -> Bool {
        contents.withLock { contents in
            guard !contents.shuttingDown, contents.entries.count < total,
                contents.perAddress[address, default: 0] < perAddress
            else { return false }
            contents.entries[ObjectIdentifier(channel)] = Entry(channel: channel, state: state)
            contents.perAddress[address, default: 0] += 1
            return true
        }
    }

    func remove(_ channel: any Channel, address: String) {
        contents.withLock { contents in
            guard contents.entries.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            let remaining = contents.perAddress[address, default: 1] - 1
            contents.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }

    /// Marks a connection busy for one client line; false once shutdown has begun or its session ended.
    func markBusy(_ channel: any Channel, _ state: ConnectionState) -> Bool {
        contents.withLock { contents in
            guard !contents.shuttingDown, state.sessionEnd == nil else { return false }
            state.busy = true
            return true
        }
    }

    /// Flags shutdown and returns the connections that are not answering a line (to close now).
    func beginShutdown() -> [any Channel] {
        contents.withLock { contents in
            contents.shuttingDown = true
            return contents.entries.values.filter { !$0.state.busy }.map(\.channel)
        }
    }

    /// The logged-in sessions, each with the identity the account check compares.
    func sessions() -> [(id: ObjectIdentifier, principal: Principal)] {
        contents.withLock { contents in
            contents.entries.compactMap { id, entry in entry.state.principal.map { (id, $0) } }
        }
    }

    /// Ends the sessions named, each judged by the principal it had when `sessions()` was read: each is
    /// marked (a busy one stops its reply and closes after its final line). A session whose principal
    /// changed since (its own `/passwd` finished meanwhile) is left alone and reported as stale, so the
    /// caller judges it again. Returns the idle ones, which the caller tells and closes now.
    func end(_ ends: [ObjectIdentifier: (end: SessionEnd, judged: Principal)])
        -> (idle: [(channel: any Channel, end: SessionEnd)], stale: Bool)
    {
        contents.withLock { contents in
            var stale = false
            let idle = ends.compactMap { id, verdict -> (channel: any Channel, end: SessionEnd)? in
                guard let entry = contents.entries[id] else { return nil }
                guard entry.state.principal?.isSameLogin(as: verdict.judged) == true else {
                    stale = true
                    return nil
                }
                guard entry.state.end(verdict.end), !entry.state.busy else { return nil }
                return (entry.channel, verdict.end)
            }
            return (idle, stale)
        }
    }

    var isShuttingDown: Bool { contents.withLock { $0.shuttingDown } }

    var count: Int { contents.withLock { $0.entries.count } }
}
