// How `enclave chat` shows the server's lines to a person, as a pure function of the bytes received:
// streamed `> ` text appears as it arrives (before its line ends), `/history` rows show their line
// breaks instead of `\n` escapes, and a chat reply's final line is followed by its speed.
//
//   = 3<TAB>user<TAB>2026-12-02T06:00:00Z<TAB>line one\nline two
//   → #3 user 2026-12-02T06:00:00Z
//       line one
//       line two
//   OK conversation=c1 provider=local model=m tokens=42 ms=2000
//   → OK conversation=... (as sent), then: * 42 tokens in 2.0 s: 21.0 tokens/s
//
// Everything else, and everything for a script (`forPeople` false), is shown as the server sent it.

/// Renders server output for a person and picks out final lines.
public struct ReplyRenderer: Sendable {
    /// Bytes of the line not yet complete.
    private var partial: [UInt8] = []
    /// How many bytes of `partial` were already shown (a streamed `> ` line).
    private var shown = 0
    /// Rows of the reply in progress are history rows (the line sent was `/history`).
    public var historyRows = false
    /// Whether history rows and speeds are rendered (a terminal) or lines passed as sent (a script).
    public let forPeople: Bool

    public init(forPeople: Bool) {
        self.forPeople = forPeople
    }

    /// What to show for `bytes`, and the complete lines they ended (in order).
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> (display: String, lines: [String]) {
        partial += bytes
        var display = ""
        var lines: [String] = []
        while let newline = partial.firstIndex(of: 0x0A) {
            let line = String(decoding: partial[..<newline], as: UTF8.self)
            if shown > 0 {
                display += String(decoding: partial[shown...newline], as: UTF8.self)
            } else {
                display += render(line)
            }
            lines.append(line)
            partial.removeSubrange(...newline)
            shown = 0
        }
        // A `> ` line is shown as it streams, up to its last complete UTF-8 character.
        if partial.starts(with: Self.textPrefix) {
            let end = Self.completeUTF8(partial)
            if end > shown {
                display += String(decoding: partial[shown..<end], as: UTF8.self)
                shown = end
            }
        }
        return (display, lines)
    }

    /// Whether `line` ends a reply (`OK...` or `ERR ...`).
    public static func isFinal(_ line: String) -> Bool {
        line == "OK" || line.hasPrefix("OK ") || line.hasPrefix("ERR ")
    }

    private static let textPrefix = Array("> ".utf8)

    /// One complete line as shown, with its line end.
    private func render(_ line: String) -> String {
        guard forPeople else { return line + "\n" }
        if historyRows, line.hasPrefix("= ") {
            let fields = line.dropFirst(2).split(separator: "\t", omittingEmptySubsequences: false).map(Self.unescape)
            if fields.count >= 4 {
                let body = fields[3...].joined(separator: "\t").split(separator: "\n", omittingEmptySubsequences: false)
                return "#\(fields[0]) \(fields[1]) \(fields[2])\n" + body.map { "    \($0)\n" }.joined()
            }
        }
        guard line.hasPrefix("OK "), let speed = Self.speed(line) else { return line + "\n" }
        return line + "\n* " + speed + "\n"
    }

    /// "42 tokens in 2.0 s: 21.0 tokens/s" for a final line with `tokens=` and `ms=`.
    static func speed(_ line: String) -> String? {
        var values: [Substring: Int] = [:]
        for field in line.split(separator: " ") {
            let pair = field.split(separator: "=", maxSplits: 1)
            if pair.count == 2, let value = Int(pair[1]) { values[pair[0]] = value }
        }
        guard let tokens = values["tokens"], let ms = values["ms"], ms > 0 else { return nil }
        let seconds = Double(ms) / 1000
        let rate = (Double(tokens) / seconds * 10).rounded() / 10
        return "\(tokens) tokens in \((seconds * 10).rounded() / 10) s: \(rate) tokens/s"
    }

    /// A `= ` field with its escapes (`\\` `\t` `\r` `\n`, PROTOCOL.md) undone.
    static func unescape(_ field: Substring) -> String {
        var out = ""
        var escaped = false
        for character in field {
            if escaped {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": break
                default: out.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// The length of the longest prefix of `bytes` that does not end inside a UTF-8 character.
    static func completeUTF8(_ bytes: [UInt8]) -> Int {
        var index = bytes.count
        var continuation = 0
        while index > 0, bytes[index - 1] & 0xC0 == 0x80, continuation < 3 {
            index -= 1
            continuation += 1
        }
        guard index > 0 else { return bytes.count }
        let lead = bytes[index - 1]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return continuation + 1 >= length ? bytes.count : index - 1
    }
}
