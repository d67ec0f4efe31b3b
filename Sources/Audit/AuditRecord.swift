// One line of `audit.jsonl`: an `AuditEvent` plus its place in the chain. The canonical line is
//
//   {"seq":7,"time":"…Z","actor":…,"role":…,"origin":…,"action":…,"subject":…,"outcome":…,
//    ["detail":…,] [model-call fields,] "prev":"<sha256 of line 6>","mac":"<hmac-sha256>"}
//
// `prev` is the SHA-256 of the previous line's bytes (without its LF; 64 zeros for seq 1) and `mac`
// is HMAC-SHA256 over every byte of the line before `,"mac":`, so the MAC covers the chain link too.
// Optional fields are omitted when nil, tags are sorted, detector counts sorted by name: one event has
// exactly one encoding, and readers reject any other (see `AuditRecord.init(line:)`).

/// A record as stored: sequence number, event, chain link and MAC.
public struct AuditRecord: Sendable, Equatable {
    /// 1-based position in the log.
    public var seq: UInt64
    /// The event, with `origin` already replaced by its keyed HMAC.
    public var event: AuditEvent
    /// Lower-case hex SHA-256 of the previous line (64 zeros for the first record).
    public var prev: String
    /// Lower-case hex HMAC-SHA256 of the line's bytes before `,"mac":`.
    public var mac: String

    public init(seq: UInt64, event: AuditEvent, prev: String, mac: String) {
        self.seq = seq
        self.event = event
        self.prev = prev
        self.mac = mac
    }

    /// The `prev` of the first record.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The bytes the MAC covers: the line up to (not including) `,"mac":`.
    public var authenticatedBytes: [UInt8] {
        var writer = JSONLineWriter()
        writer.field("seq", Int64(seq))
        writer.field("time", event.time.text)
        writer.field("actor", event.actor)
        writer.field("role", event.role)
        writer.field("origin", event.origin)
        writer.field("action", event.action)
        writer.field("subject", event.subject)
        writer.field("outcome", event.outcome)
        if let detail = event.detail { writer.field("detail", detail) }
        if let call = event.call { Self.write(call, into: &writer) }
        writer.field("prev", prev)
        return writer.bytes
    }

    /// The whole canonical line, without the LF.
    public var line: [UInt8] { Self.line(authenticated: authenticatedBytes, mac: mac) }

    static func line(authenticated: [UInt8], mac: String) -> [UInt8] {
        authenticated + Array(",\"mac\":\"\(mac)\"}".utf8)
    }

    private static func write(_ call: ModelCallFields, into writer: inout JSONLineWriter) {
        writer.field("model_id", call.modelID)
        writer.field("prompt_version", call.promptVersion)
        writer.field("provider", call.provider)
        writer.field("residency", call.residency)
        if let region = call.region { writer.field("region", region) }
        if let arm = call.canaryArm { writer.field("arm", arm) }
        if let route = call.route { writer.field("route", route) }
        writer.field("decision", call.decision)
        writer.field("rule", call.rule)
        if let sha = call.policySHA256 { writer.field("policy_sha256", sha) }
        writer.field("tags", Array(Set(call.tags)).sorted())
        writer.field(
            "detectors", counts: call.detectorCounts.sorted { $0.key < $1.key }.map { ($0.key, Int64($0.value)) })
        if let value = call.tokensIn { writer.field("tokens_in", Int64(value)) }
        if let value = call.tokensOut { writer.field("tokens_out", Int64(value)) }
        if let value = call.tokensEstimated { writer.field("tokens_estimated", value ? 1 : 0) }
        if let value = call.droppedTurns { writer.field("dropped_turns", Int64(value)) }
        if let value = call.ttftMs { writer.field("ttft_ms", Int64(value)) }
        if let value = call.totalMs { writer.field("total_ms", Int64(value)) }
        if let value = call.costMicros { writer.field("cost_micros", Int64(value)) }
        if let value = call.errorCode { writer.field("error", value) }
        if let value = call.replyChars { writer.field("reply_chars", Int64(value)) }
        if let value = call.refusal { writer.field("refusal", value ? 1 : 0) }
    }

    /// Why a line is not a canonical record (thrown as `AuditError.record`).
    public enum DecodingProblem: Equatable, Sendable {
        case syntax(offset: Int)
        case missingField(String)
        case wrongType(String)
        case unknownField(String)
        case notCanonical
    }

    /// Decodes a line (without its LF) and checks it is the canonical encoding of what it says.
    public init(line: ArraySlice<UInt8>) throws(AuditError) {
        let fields: [(String, JSONLineValue)]
        do { fields = try JSONLineReader.parse(line) } catch { throw .record(.syntax(offset: error.offset)) }
        var map: [String: JSONLineValue] = [:]
        for (name, value) in fields {
            guard map.updateValue(value, forKey: name) == nil else { throw .record(.notCanonical) }
        }
        var fieldsUsed = 0
        func string(_ name: String) throws(AuditError) -> String {
            guard let value = map[name] else { throw .record(.missingField(name)) }
            guard case .string(let text) = value else { throw .record(.wrongType(name)) }
            fieldsUsed += 1
            return text
        }
        func optionalString(_ name: String) throws(AuditError) -> String? {
            map[name] == nil ? nil : try string(name)
        }
        func optionalInt(_ name: String) throws(AuditError) -> Int? {
            guard let value = map[name] else { return nil }
            guard case .integer(let number) = value, let result = Int(exactly: number) else {
                throw .record(.wrongType(name))
            }
            fieldsUsed += 1
            return result
        }
        guard let seq = try optionalInt("seq"), seq > 0 else { throw .record(.missingField("seq")) }
        guard let time = UTCMillis(text: try string("time")) else { throw .record(.wrongType("time")) }
        var event = AuditEvent(
            time: time, actor: try string("actor"), role: try string("role"), origin: try string("origin"),
            action: try string("action"), subject: try string("subject"), outcome: try string("outcome"),
            detail: try optionalString("detail"))
        if map["model_id"] != nil {
            guard case .strings(let tags)? = map["tags"] else { throw .record(.wrongType("tags")) }
            guard case .counts(let counts)? = map["detectors"] else { throw .record(.wrongType("detectors")) }
            fieldsUsed += 2
            var detectorCounts: [String: Int] = [:]
            for (name, count) in counts {
                guard let value = Int(exactly: count), detectorCounts.updateValue(value, forKey: name) == nil else {
                    throw .record(.notCanonical)
                }
            }
            event.call = ModelCallFields(
                modelID: try string("model_id"), promptVersion: try string("prompt_version"),
                provider: try string("provider"), residency: try string("residency"),
                canaryArm: try optionalString("arm"), decision: try string("decision"), rule: try string("rule"),
                tags: tags, detectorCounts: detectorCounts, tokensIn: try optionalInt("tokens_in"),
                tokensOut: try optionalInt("tokens_out"), ttftMs: try optionalInt("ttft_ms"),
                totalMs: try optionalInt("total_ms"), costMicros: try optionalInt("cost_micros"),
                errorCode: try optionalString("error"), replyChars: try optionalInt("reply_chars"),
                region: try optionalString("region"), route: try optionalString("route"),
                policySHA256: try optionalString("policy_sha256"), droppedTurns: try optionalInt("dropped_turns"))
            func flag(_ name: String) throws(AuditError) -> Bool? {
                guard let value = try optionalInt(name) else { return nil }
                guard value == 0 || value == 1 else { throw .record(.wrongType(name)) }
                return value == 1
            }
            event.call?.refusal = try flag("refusal")
            event.call?.tokensEstimated = try flag("tokens_estimated")
        }
        let prev = try string("prev")
        let mac = try string("mac")
        if fieldsUsed != map.count {
            let known = Set(Self.fieldOrder)
            guard let unknown = map.keys.sorted().first(where: { !known.contains($0) }) else {
                throw .record(.notCanonical)
            }
            throw .record(.unknownField(unknown))
        }
        self.init(seq: UInt64(seq), event: event, prev: prev, mac: mac)
        guard self.line.elementsEqual(line) else { throw .record(.notCanonical) }
    }

    /// Every field name, in canonical order (also the CSV export's columns).
    public static let fieldOrder = [
        "seq", "time", "actor", "role", "origin", "action", "subject", "outcome", "detail", "model_id",
        "prompt_version", "provider", "residency", "region", "arm", "route", "decision", "rule", "policy_sha256",
        "tags", "detectors", "tokens_in", "tokens_out", "tokens_estimated", "dropped_turns", "ttft_ms", "total_ms",
        "cost_micros", "error", "reply_chars", "refusal", "prev", "mac",
    ]
}
