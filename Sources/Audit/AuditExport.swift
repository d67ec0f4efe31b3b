// Export for SIEMs and e-discovery. `jsonl` writes the matching records verbatim (MAC and chain link
// included, so an exported subset can still be checked record by record with the MAC key); `csv`
// writes RFC 4180 rows with one column per field of the canonical order. CSV cells that a spreadsheet
// would run as a formula (leading `=`, `+`, `-`, `@`, TAB, CR) get a leading `'` (OWASP's advice).
import Foundation

/// The export formats of `enclave audit export`.
public enum AuditExportFormat: String, Sendable, CaseIterable {
    case jsonl
    case csv
}

/// Writes records in an export format.
public enum AuditExporter {
    /// Streams the records of `directory` that match `query` to `write`, in `format`; returns how many.
    @discardableResult
    public static func export(
        directory: String, query: AuditQuery = AuditQuery(), format: AuditExportFormat,
        write: ([UInt8]) throws -> Void
    ) throws -> Int {
        var count = 0
        if format == .csv { try write(Array((csvLine(AuditRecord.fieldOrder) + "\r\n").utf8)) }
        try AuditReader.forEachRecord(directory: directory) { record, line in
            guard query.matches(record) else { return }
            count += 1
            switch format {
            case .jsonl: try write(Array(line) + [0x0A])
            case .csv: try write(Array((csvLine(csvFields(record)) + "\r\n").utf8))
            }
        }
        return count
    }

    /// The record's fields in `AuditRecord.fieldOrder`; absent optional fields are empty cells.
    public static func csvFields(_ record: AuditRecord) -> [String] {
        let event = record.event
        let call = event.call
        func number(_ value: Int?) -> String { value.map(String.init) ?? "" }
        return [
            String(record.seq), event.time.text, event.actor, event.role, event.origin, event.action, event.subject,
            event.outcome, event.detail ?? "", call?.modelID ?? "", call?.promptVersion ?? "", call?.provider ?? "",
            call?.residency ?? "", call?.region ?? "", call?.canaryArm ?? "", call?.route ?? "",
            call?.decision ?? "", call?.rule ?? "", call?.policySHA256 ?? "",
            call.map { $0.tags.sorted().joined(separator: ";") } ?? "",
            call.map {
                $0.detectorCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
            }
                ?? "",
            number(call?.tokensIn), number(call?.tokensOut), number(call?.tokensEstimated.map { $0 ? 1 : 0 }),
            number(call?.droppedTurns), number(call?.ttftMs), number(call?.totalMs),
            number(call?.costMicros), call?.errorCode ?? "", number(call?.replyChars),
            number(call?.refusal.map { $0 ? 1 : 0 }), record.prev, record.mac,
        ]
    }

    /// One CSV line (without the CRLF).
    public static func csvLine(_ fields: [String]) -> String {
        fields.map(csvCell).joined(separator: ",")
    }

    static func csvCell(_ field: String) -> String {
        var text = field
        if let first = text.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first),
            text != "-"
        {
            text = "'" + text
        }
        guard text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
