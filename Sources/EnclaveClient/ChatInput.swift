// Where `enclave chat` gets its lines, and how the password it remembers is held. A terminal and a
// script differ (the terminal edits lines, hides the password, and turns Ctrl-C during a reply into
// an interrupt), so the session talks to this protocol and the CLI supplies the terminal or stdin.
import Synchronization

/// The person (or script) at the client. Every method may block; the session calls them off the
/// concurrency pool.
public protocol ChatInput: Sendable {
    /// The next line to send, or nil at the end of input. A line may hold line breaks (a paste).
    func nextLine() -> String?
    /// A secret typed without echo (the password of `--user`), or nil at the end of input.
    func readSecret(prompt: String) -> String?
    /// A reply is awaited: until `replyEnded`, keys are kept for the next line (not shown in the middle
    /// of the reply) and Ctrl-C calls `interrupt`.
    func replyStarted(interrupt: @escaping @Sendable () -> Void)
    /// The reply's final line arrived.
    func replyEnded()
}

/// Lines from a script: no editing, no interrupts.
public struct ScriptInput: ChatInput {
    private let read: @Sendable () -> String?

    public init(read: @escaping @Sendable () -> String?) {
        self.read = read
    }

    public func nextLine() -> String? { read() }
    public func readSecret(prompt: String) -> String? { read() }
    public func replyStarted(interrupt: @escaping @Sendable () -> Void) {}
    public func replyEnded() {}
}

/// A user name and password remembered in memory only, so a lost connection can log in again; the
/// bytes are overwritten with zeros by `wipe()` (the session calls it on every way out).
final class Credentials: Sendable {
    let user: String
    private let password: Mutex<[UInt8]>

    init(user: String, password: some Sequence<UInt8>) {
        self.user = user
        self.password = Mutex(Array(password))
    }

    /// The `/login` line for these credentials.
    var loginLine: String { password.withLock { "/login \(user) " + String(decoding: $0, as: UTF8.self) } }

    func wipe() {
        password.withLock { bytes in
            for index in bytes.indices { bytes[index] = 0 }
            bytes = []
        }
    }

    deinit { wipe() }

    /// The credentials of a `/login <user> <password>` line (the password runs to the end of the line).
    static func parse(loginLine line: String) -> Credentials? {
        let rest = line.utf8.dropFirst("/login ".utf8.count)
        guard let space = rest.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let user = String(decoding: rest[..<space], as: UTF8.self)
        guard !user.isEmpty else { return nil }
        return Credentials(user: user, password: rest[rest.index(after: space)...])
    }
}
