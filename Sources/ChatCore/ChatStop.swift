// How a reply stops early.

/// Thrown by ChatCore's text handler to stop a reply early (`disconnected`, `shutdown`).
public struct ChatStop: Error, Sendable, Equatable {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }
}
