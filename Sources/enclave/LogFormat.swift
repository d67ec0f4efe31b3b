// The server log on standard error, one line per event, no colour, in a form the journal keeps well:
// `text` (the default) is `LEVEL LABEL: MESSAGE key=value ...`; under systemd ($JOURNAL_STREAM set) each
// line starts with its syslog priority as `<N>` (journald files it under that priority) and carries no
// time of its own, since the journal stamps every line. `json` (`--log-format json`) is one object per
// line — time, level, logger, message, metadata — for a collector that parses fields.
//
// The handler writes what the code logs and nothing more; the privacy rule is kept where lines are
// written (no message text, prompts or keys are ever put in a log message or its metadata). A newline
// inside a value is escaped, so one event stays one line whatever it carries.
import ArgumentParser
import Audit
import Foundation
import Logging

/// How `enclave serve` writes its log.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json

    /// Makes every logger of the process write in this format (call once, before the first logger).
    func bootstrap(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let journal = environment["JOURNAL_STREAM"].map { !$0.isEmpty } ?? false
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: self, journal: journal) }
    }
}

/// A swift-log handler writing one line per event to standard error.
struct LineLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    /// The journal reads standard error: prefix the priority, leave out the time.
    let journal: Bool
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata.mapValues { "\($0)" }
        for (key, value) in event.metadata ?? [:] { fields[key] = "\(value)" }
        if let error = event.error { fields["error.type"] = "\(type(of: error))" }
        let line =
            format == .json
            ? Self.json(time: UTCMillis.now.text, level: event.level, label: label, message: "\(event.message)", fields)
            : Self.text(level: event.level, label: label, message: "\(event.message)", fields, journal: journal)
        // One write per line, so lines from several threads never interleave.
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// `[<N>]LEVEL LABEL: MESSAGE key=value ...`, keys sorted, values quoted when they hold a space.
    static func text(
        level: Logger.Level, label: String, message: String, _ fields: [String: String], journal: Bool
    ) -> String {
        var line = journal ? "<\(priority(level))>" : UTCMillis.now.text + " "
        line += "\(level) \(label): \(escaped(message))"
        for key in fields.keys.sorted() {
            let value = escaped(fields[key] ?? "")
            line += " \(key)=" + (value.contains(" ") || value.isEmpty ? "\"\(value)\"" : value)
        }
        return line
    }

    /// One JSON object; metadata sits in its own object, so a field never shadows the fixed ones.
    static func json(
        time: String, level: Logger.Level, label: String, message: String, _ fields: [String: String]
    ) -> String {
        struct Line: Encodable {
            var time: String
            var level: String
            var logger: String
            var message: String
            var metadata: [String: String]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data =
            (try? encoder.encode(
                Line(time: time, level: "\(level)", logger: label, message: message, metadata: fields)))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The syslog priority journald reads from a `<N>` prefix.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }

    /// Line breaks and other control characters as escapes, so one event is one line.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || escapes[$0] != nil }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if let escape = escapes[scalar] {
                out += escape
            } else if scalar.value < 0x20 {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The characters written as a backslash escape.
    static let escapes: [Unicode.Scalar: String] = [
        "\n": "\\n", "\r": "\\r", "\t": "\\t", "\"": "\\\"", "\\": "\\\\",
    ]
}
