// systemd's notification protocol (sd_notify), for `Type=notify` units: one datagram of `KEY=VALUE`
// lines to the AF_UNIX socket named by $NOTIFY_SOCKET — a path, or an abstract name written with a
// leading `@`. `enclave serve` sends `READY=1` once both listeners accept, `WATCHDOG=1` every half of
// $WATCHDOG_USEC while it runs, and `STOPPING=1` on shutdown (a SIGHUP reload changes no readiness: the
// last good policy keeps serving). Outside systemd (no $NOTIFY_SOCKET) nothing is sent. We write the few
// lines ourselves rather than link libsystemd, which the binary would then need on every machine.
import Foundation
import ServiceLifecycle

/// A sender to the service manager's notification socket.
struct SystemdNotifier: Sendable {
    /// The socket address bytes: a path, or (abstract) a NUL followed by the name.
    let address: [UInt8]

    /// The notifier $NOTIFY_SOCKET names, or nil when it is unset or unusable.
    init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let name = environment["NOTIFY_SOCKET"], name.hasPrefix("/") || name.hasPrefix("@") else { return nil }
        var bytes = Array(name.utf8)
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return nil }
        address = bytes
    }

    /// Sends `state` (e.g. `READY=1`); false when the datagram could not be sent.
    @discardableResult
    func send(_ state: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { path in
            path.copyBytes(from: address)
        }
        // An abstract name's length is exact (no terminating NUL); a path's may include it.
        let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + address.count)
        let payload = Array(state.utf8)
        let sent = withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                // Never wait for the manager: a full queue loses this datagram, never stalls the server.
                sendto(fd, payload, payload.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), address, length)
            }
        }
        return sent == payload.count
    }

    /// Half the watchdog interval systemd asked for ($WATCHDOG_USEC, for this process when $WATCHDOG_PID
    /// is set), or nil when no watchdog is configured.
    static func watchdogInterval(environment: [String: String] = ProcessInfo.processInfo.environment) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0 else {
            return nil
        }
        if let pid = environment["WATCHDOG_PID"], pid != String(getpid()) { return nil }
        return .microseconds(microseconds / 2)
    }
}

/// Feeds systemd's watchdog while the server runs and says when it stops (READY=1 is the announcement's).
struct SystemdWatchdog: Service {
    let notifier: SystemdNotifier
    let interval: Duration?

    func run() async {
        await cancelWhenGracefulShutdown {
            // The keep-alive runs on the same cooperative pool as the chat server's tasks, so a stuck
            // pool stops it and systemd restarts the service.
            while let interval, !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                notifier.send("WATCHDOG=1")
            }
            // No watchdog: wait for shutdown.
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        }
        notifier.send("STOPPING=1")
    }
}
