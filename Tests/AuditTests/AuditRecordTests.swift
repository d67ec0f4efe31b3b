// AuditRecord: the canonical line, written out by hand here, and the reader's refusal of every other
// spelling of the same record (any such spelling in a log means someone edited it).
import EnclaveTestSupport
import Foundation
import Testing

@testable import Audit

@Suite struct AuditRecordTests {
    static let prev = String(repeating: "ab", count: 32)
    static let mac = String(repeating: "cd", count: 32)

    static func sample() -> AuditRecord {
        let call = ModelCallFields(
            modelID: "m", promptVersion: "default.v2", provider: "local", residency: "on-prem", canaryArm: "canary",
            decision: "allowed", rule: "r1", tags: ["b", "a", "a"], detectorCounts: ["nhs": 1, "iban": 2],
            tokensIn: 10, tokensOut: 5, ttftMs: 7, totalMs: 9, costMicros: 20)
        let event = AuditEvent(
            time: UTCMillis(1_795_923_600_123), actor: "alice", role: "staff",
            origin: "hmac:00112233445566778899aabbccddeeff", action: "model.call", subject: "c1", call: call)
        return AuditRecord(seq: 3, event: event, prev: prev, mac: mac)
    }

    static let sampleLine =
        #"{"seq":3,"time":"2026-11-29T03:40:00.123Z","actor":"alice","role":"staff","#
        + #""origin":"hmac:00112233445566778899aabbccddeeff","action":"model.call","subject":"c1","outcome":"ok","#
        + #""model_id":"m","prompt_version":"default.v2","provider":"local","residency":"on-prem","arm":"canary","#
        + #""decision":"allowed","rule":"r1","tags":["a","b"],"detectors":{"iban":2,"nhs":1},"tokens_in":10,"#
        + #""tokens_out":5,"ttft_ms":7,"total_ms":9,"cost_micros":20,"prev":""# + prev + #"","mac":""# + mac + #""}"#

    /// The routing facts in their canonical places, written out by hand from the field order.
    @Test func theRoutingFactsHaveTheirPlacesInTheLine() throws {
        var record = Self.sample()
        record.event.call?.region = "eu-west-1"
        record.event.call?.route = "sticky"
        record.event.call?.policySHA256 = "ef01"
        record.event.call?.tokensEstimated = true
        record.event.call?.droppedTurns = 4
        let line =
            #"{"seq":3,"time":"2026-11-29T03:40:00.123Z","actor":"alice","role":"staff","#
            + #""origin":"hmac:00112233445566778899aabbccddeeff","action":"model.call","subject":"c1","outcome":"ok","#
            + #""model_id":"m","prompt_version":"default.v2","provider":"local","residency":"on-prem","#
            + #""region":"eu-west-1","arm":"canary","route":"sticky","decision":"allowed","rule":"r1","#
            + #""policy_sha256":"ef01","tags":["a","b"],"detectors":{"iban":2,"nhs":1},"tokens_in":10,"#
            + #""tokens_out":5,"tokens_estimated":1,"dropped_turns":4,"ttft_ms":7,"total_ms":9,"cost_micros":20,"#
            + #""prev":""# + Self.prev + #"","mac":""# + Self.mac + #""}"#
        #expect(String(decoding: record.line, as: UTF8.self) == line)
        record.event.call?.tags = ["a", "b"]
        #expect(try AuditRecord(line: Array(line.utf8)[...]) == record)
        #expect(throws: AuditError.record(.wrongType("tokens_estimated"))) {
            try AuditRecord(
                line: Array(
                    line.replacingOccurrences(of: "\"tokens_estimated\":1", with: "\"tokens_estimated\":2").utf8)[...])
        }
    }

    @Test func encodesTheCanonicalLine() {
        #expect(String(decoding: Self.sample().line, as: UTF8.self) == Self.sampleLine)
    }

    @Test func theMACCoversEverythingBeforeTheMACField() {
        let line = Self.sample().line
        let authenticated = Self.sample().authenticatedBytes
        #expect(Array(line.prefix(authenticated.count)) == authenticated)
        #expect(
            String(decoding: line.dropFirst(authenticated.count), as: UTF8.self) == #","mac":""# + Self.mac + #""}"#)
    }

    @Test func decodesItsOwnLine() throws {
        let decoded = try AuditRecord(line: Array(Self.sampleLine.utf8)[...])
        var expected = Self.sample()
        expected.event.call?.tags = ["a", "b"]
        #expect(decoded == expected)
    }

    @Test func encodesASecurityEventWithEscapes() throws {
        let event = AuditEvent(
            time: UTCMillis(0), actor: "a\"b\\c\nd\te\u{01}fé", role: "-", action: "auth.failure",
            outcome: "auth-failed", detail: "attempts=3")
        let record = AuditRecord(seq: 1, event: event, prev: AuditRecord.genesisHash, mac: Self.mac)
        let expected =
            #"{"seq":1,"time":"1970-01-01T00:00:00.000Z","actor":"a\"b\\c\nd\te\u0001fé","role":"-","origin":"-","#
            + #""action":"auth.failure","subject":"-","outcome":"auth-failed","detail":"attempts=3","prev":""#
            + AuditRecord.genesisHash + #"","mac":""# + Self.mac + #""}"#
        #expect(String(decoding: record.line, as: UTF8.self) == expected)
        #expect(try AuditRecord(line: record.line[...]) == record)
    }

    @Test(arguments: [
        (#""seq":3,"#, #""seq": 3,"#),
        (#""tags":["a","b"]"#, #""tags":["b","a"]"#),
        (#""actor":"alice","#, #""actor":"\u0061lice","#),
        (#""iban":2,"nhs":1"#, #""nhs":1,"iban":2"#),
        (#""role":"staff","#, #""role":"staff","role":"staff","#),
        (#""outcome":"ok","#, #""outcome":"ok","extra":"x","#),
        (#""outcome":"ok","#, ""),
        (#""seq":3"#, #""seq":03"#),
        (#""tokens_in":10,"#, #""tokens_in":10.0,"#),
    ])
    func rejectsOtherSpellings(original: String, replacement: String) {
        let altered = Self.sampleLine.replacingOccurrences(of: original, with: replacement)
        #expect(altered != Self.sampleLine)
        #expect(throws: AuditError.self) { try AuditRecord(line: Array(altered.utf8)[...]) }
    }

    @Test func neverTrapsOnHostileBytes() {
        var random = SplitMix64(seed: 11)
        let line = Array(Self.sampleLine.utf8)
        for cut in 0..<line.count {
            #expect(throws: AuditError.self) { try AuditRecord(line: line[..<cut]) }
        }
        for _ in 0..<3000 {
            var bytes = line
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            _ = try? AuditRecord(line: bytes[...])
            let noise = (0..<Int.random(in: 0...80, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            _ = try? AuditRecord(line: noise[...])
        }
    }
}
