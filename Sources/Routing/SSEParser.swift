// An incremental parser of Server-Sent Events (the WHATWG "event stream" format) as OpenAI-compatible
// servers send them. Bytes arrive in arbitrary pieces (a TCP read may split a line or a UTF-8
// sequence); the parser keeps the partial line and yields each event as soon as its blank line
// arrives, so a reply reaches the user token by token.
//
//     data: {"choices":[...]}\n          one field line ("data", colon, optional space, value)
//     : keep-alive\n                     a comment, ignored
//     \n                                 a blank line dispatches the event
//
// Lines end in LF, CRLF or CR. Only `data` matters to us; `event`, `id` and `retry` are accepted
// and ignored. A line longer than `maximumLineLength` or a value that is not UTF-8 is a malformed
// stream (a clear error), never an unbounded buffer.

/// One dispatched server-sent event.
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event` field, if the server named the event type.
    public var event: String?
    /// The `data` lines of the event, joined by LF.
    public var data: String

    public init(event: String? = nil, data: String) {
        self.event = event
        self.data = data
    }
}

/// Incremental SSE parser; feed bytes, collect events.
public struct SSEParser: Sendable {
    /// The longest line accepted (1 MiB by default): bounds memory against a hostile server.
    public let maximumLineLength: Int
    private var line: [UInt8] = []
    private var lastWasCR = false
    private var dataLines: [String] = []
    private var eventName: String?
    private var hasData = false
    /// Bytes consumed so far, for error details.
    public private(set) var offset = 0

    public init(maximumLineLength: Int = 1 << 20) {
        self.maximumLineLength = maximumLineLength
    }

    /// Consumes `bytes` and returns the events they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(RoutingError) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            offset += 1
            if byte == 0x0A, lastWasCR {  // the LF of a CRLF: the line already ended at the CR
                lastWasCR = false
                continue
            }
            lastWasCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                if let event = try endLine() { events.append(event) }
                continue
            }
            guard line.count < maximumLineLength else {
                throw RoutingError.provider(
                    .malformedStream, "line longer than \(maximumLineLength) bytes at byte \(offset)")
            }
            line.append(byte)
        }
        return events
    }

    /// Whether bytes of an unfinished line or event are pending (a stream ending here was cut).
    public var hasPendingInput: Bool { !line.isEmpty || hasData }

    private mutating func endLine() throws(RoutingError) -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard hasData else {
                eventName = nil
                return nil
            }
            let event = ServerSentEvent(event: eventName, data: dataLines.joined(separator: "\n"))
            dataLines.removeAll()
            eventName = nil
            hasData = false
            return event
        }
        if line[0] == 0x3A { return nil }  // ":" comment
        let field: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: 0x3A) {
            field = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == 0x20 { value = value.dropFirst() }
        } else {
            field = line[...]
            value = []
        }
        guard let text = String(validating: value, as: UTF8.self) else {
            throw RoutingError.provider(.malformedStream, "value is not UTF-8 before byte \(offset)")
        }
        switch Array(field) {
        case Array("data".utf8):
            dataLines.append(text)
            hasData = true
        case Array("event".utf8):
            eventName = text
        default:
            break  // id, retry and unknown fields are ignored, as the format requires
        }
        return nil
    }
}
