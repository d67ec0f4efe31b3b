// Rendering of server output into protocol lines (DESIGN.md §3): `* ` notices, `> ` streamed text,
// `= ` rows, and the final `OK` / `ERR`. Everything written is readable in plain `nc`.
import ChatCore
import Logging
import NIOCore

/// Formats streamed assistant text into `> ` lines: a newline inside the reply starts a new `> `
/// line, and control characters (other than TAB) are dropped so a terminal stays sane.
struct StreamedTextFormatter {
    private(set) var midLine = false

    /// The bytes to write for one streamed piece.
    mutating func format(_ piece: String) -> String {
        var out = ""
        for scalar in piece.unicodeScalars {
            if scalar == "\n" {
                if !midLine { out += "> " }
                out += "\n"
                midLine = false
                continue
            }
            guard
                scalar == "\t"
                    || (scalar.value >= 0x20 && scalar.value != 0x7F && !(0x80..<0xA0).contains(scalar.value))
            else { continue }
            if !midLine {
                out += "> "
                midLine = true
            }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    /// Ends an open `> ` line before the final line.
    mutating func finish() -> String {
        defer { midLine = false }
        return midLine ? "\n" : ""
    }
}

/// Writes protocol lines to one connection; each write waits while the client is not reading.
struct LineWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// Where internal errors are recorded, under the incident id the client is told.
    let logger: Logger

    func raw(_ text: String) async throws {
        guard !text.isEmpty else { return }
        try await outbound.write(ByteBuffer(string: text))
    }

    func notice(_ text: String) async throws { try await raw(Self.noticeLine(text)) }

    func row(_ fields: [String]) async throws {
        try await raw("= \(fields.map(Self.oneLine).joined(separator: "\t"))\n")
    }

    /// The final `OK` line; `preceding` (e.g. the end of a streamed line) goes out in the same write.
    func ok(_ text: String = "", after preceding: String = "") async throws {
        try await raw(preceding + (text.isEmpty ? "OK\n" : "OK \(Self.oneLine(text))\n"))
    }

    /// The final `ERR` line; `preceding` goes out in the same write. Every `ERR internal` is logged first
    /// with its incident (one is made for a failure that came without).
    func error(_ failure: ChatFailure, after preceding: String = "") async throws {
        var failure = failure
        if failure.code == .internal {
            let incident = failure.incident ?? Incident(cause: "ChatFailure", detail: failure.text, at: "ChatServer")
            failure = .internal(incident)
            logger.error(
                "session.internal-error",
                metadata: [
                    "incident.id": "\(incident.id)", "error.type": "\(incident.cause)",
                    "error.detail": "\(incident.detail)", "error.location": "\(incident.location)",
                ])
        }
        try await raw(preceding + Self.oneLine(failure.wireLine) + "\n")
    }

    /// A notice as the bytes `notice` writes, to send together with what follows.
    static func noticeLine(_ text: String) -> String { "* \(oneLine(text))\n" }

    /// Writes rows and notices of a command result, then its `OK`.
    func result(_ result: CommandResult) async throws {
        for item in result.output {
            switch item {
            case .notice(let text): try await notice(text)
            case .row(let fields): try await row(fields)
            case .text(let text):
                var formatter = StreamedTextFormatter()
                try await raw(formatter.format(text) + formatter.finish())
            }
        }
        try await ok(result.ok)
    }

    /// `text` on one line and, in a `= ` row, in one field: control characters (TAB among them) become spaces.
    private static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }
}
