// Reading the log for people: search by time range, actor, action, provider, model, decision, tag and
// canary arm; rows for the protocol's `= ` lines and the CLI's table; export as JSON lines (the
// verbatim records, MACs included, for a SIEM or e-discovery) or CSV. Search reads the file as a
// stream and parses only canonical records; it does not verify (that is `AuditVerifier`'s job).
import Foundation

/// A filter over audit records; nil fields match everything.
public struct AuditQuery: Sendable, Equatable {
    /// Inclusive lower bound on the record's time.
    public var from: UTCMillis?
    /// Exclusive upper bound on the record's time.
    public var to: UTCMillis?
    public var actor: String?
    /// An exact action (`model.call`) or a prefix ending in `.` (`auth.`).
    public var action: String?
    public var provider: String?
    public var model: String?
    public var decision: String?
    /// Records whose model-call tags contain this tag.
    public var tag: String?
    public var arm: String?
    /// At most this many records (the latest ones) when set.
    public var limit: Int?

    public init(from: UTCMillis? = nil, to: UTCMillis? = nil, actor: String? = nil, action: String? = nil,
                provider: String? = nil, model: String? = nil, decision: String? = nil, tag: String? = nil,
                arm: String? = nil, limit: Int? = nil) {
        self.from = from
        self.to = to
        self.actor = actor
        self.action = action
        self.provider = provider
        self.model = model
        self.decision = decision
        self.tag = tag
        self.arm = arm
        self.limit = limit
    }

    /// Parses `key=value` words as typed after `/audit search` or on the command line:
    /// `from= to= user= action= provider= model= decision= tag= arm= limit=`.
    public init(words: [String]) throws(AuditError) {
        self.init()
        for word in words {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                throw .invalidArgument("expected key=value, got \(word)")
            }
            let key = String(word[..<equals])
            let value = String(word[word.index(after: equals)...])
            switch key {
            case "from", "to":
                guard let time = UTCMillis(dayOrTime: value) else {
                    throw .invalidArgument("\(key) must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.mmm]Z")
                }
                if key == "from" { from = time } else { to = time }
            case "user", "actor": actor = value
            case "action": action = value
            case "provider": provider = value
            case "model": model = value
            case "decision": decision = value
            case "tag": tag = value
            case "arm": arm = value
            case "limit":
                guard let number = Int(value), number > 0 else { throw .invalidArgument("limit must be a positive number") }
                limit = number
            default: throw .invalidArgument("unknown search key \(key)")
            }
        }
    }

    /// Whether `record` passes every set filter.
    public func matches(_ record: AuditRecord) -> Bool {
        let event = record.event
        if let from, event.time < from { return false }
        if let to, event.time >= to { return false }
        if let actor, event.actor != actor { return false }
        if let action {
            if action.hasSuffix(".") ? !event.action.hasPrefix(action) : event.action != action { return false }
        }
        if provider != nil || model != nil || decision != nil || tag != nil || arm != nil {
            guard let call = event.call else { return false }
            if let provider, call.provider != provider { return false }
            if let model, call.modelID != model { return false }
            if let decision, call.decision != decision { return false }
            if let tag, !call.tags.contains(tag) { return false }
            if let arm, call.canaryArm != arm { return false }
        }
        return true
    }
}

/// Reading records out of an audit directory.
public enum AuditReader {
    /// Calls `body` with each well-formed record of `<directory>/audit.jsonl` and its line bytes, in order.
    /// Malformed lines are skipped (run `AuditVerifier` to find them).
    public static func forEachRecord(directory: String, _ body: (AuditRecord, ArraySlice<UInt8>) throws -> Void) throws {
        let path = directory + "/" + AuditLog.logFileName
        guard FileManager.default.fileExists(atPath: path) else { return }
        var splitter = LineSplitter()
        try readChunks(of: path) { chunk in
            try splitter.feed(chunk) { line in
                if let record = try? AuditRecord(line: line) { try body(record, line) }
                return true
            }
        }
    }

    /// The records matching `query`, oldest first (the latest `limit` when a limit is set).
    public static func search(directory: String, query: AuditQuery) throws -> [AuditRecord] {
        var found: [AuditRecord] = []
        try forEachRecord(directory: directory) { record, _ in
            guard query.matches(record) else { return }
            found.append(record)
            if let limit = query.limit, found.count > 2 * limit { found.removeFirst(found.count - limit) }
        }
        if let limit = query.limit, found.count > limit { found.removeFirst(found.count - limit) }
        return found
    }

    /// The header of `row(_:)`.
    public static let rowHeader = [
        "seq", "time", "actor", "role", "origin", "action", "subject", "outcome", "provider", "model", "prompt",
        "decision", "rule", "arm", "tags", "tokens_in", "tokens_out", "ttft_ms", "total_ms", "cost_micros", "error",
    ]

    /// One record as fields for a `= ` line or a table (no TAB or line break inside a field; `-` for none).
    public static func row(_ record: AuditRecord) -> [String] {
        let event = record.event
        let call = event.call
        func number(_ value: Int?) -> String { value.map(String.init) ?? "-" }
        let fields = [
            String(record.seq), event.time.text, event.actor, event.role, event.origin, event.action, event.subject,
            event.outcome, call?.provider ?? "-", call?.modelID ?? "-", call?.promptVersion ?? "-",
            call?.decision ?? "-", call?.rule ?? "-", call?.canaryArm ?? "-",
            call.map { $0.tags.isEmpty ? "-" : $0.tags.sorted().joined(separator: ",") } ?? "-",
            number(call?.tokensIn), number(call?.tokensOut), number(call?.ttftMs), number(call?.totalMs),
            number(call?.costMicros), call?.errorCode ?? "-",
        ]
        return fields.map(AuditReader.sanitizedField)
    }

    /// Replaces TAB, CR and LF (which would break a `= ` line) with spaces; empty becomes `-`.
    public static func sanitizedField(_ text: String) -> String {
        if text.isEmpty { return "-" }
        let breaking: Set<Unicode.Scalar> = ["\t", "\n", "\r"]
        guard text.unicodeScalars.contains(where: breaking.contains) else { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { scalars.append(breaking.contains(scalar) ? " " : scalar) }
        return String(scalars)
    }
}
