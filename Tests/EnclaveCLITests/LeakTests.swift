// The leak test of issue 6 over the real server: `enclave serve` (real sockets, sealed SQLite store,
// policy directory, audit log) whose `vpc` and `external` providers are recording servers. 500
// conversations × 20 messages from 8 users on 8 connections; 20% of messages carry a card number, an
// SSN or an IBAN (valid checksums, computed here independently of the detectors) plus a unique canary
// string at a random position; users randomly switch to `/model external-gpt` and back; the recorders
// are told by marker words to fail (HTTP 500), cut the stream, send malformed SSE or stall past the
// read timeout; halfway the server is stopped and started again on the same data directory, and the
// second half of every conversation continues after `/open`.
// Afterwards: the external recorder never received a request for a conversation at or after the
// message that tagged it, and no canary string is in any byte either recorder received (the policy
// lets tagged data go to `vpc`, so any canary reaching the vpc recorder is fine, but none may reach
// the external one); no allowed external decision carries a tag. The same run under a policy that lets
// tagged data go external finds leaks, so the checks can fail.
import EnclaveClient
import EnclaveTestSupport
import Foundation
import Synchronization
import Testing

/// Detector-positive identifiers with valid checksums (Luhn, SSA structure, ISO 13616 mod 97).
enum SensitiveData {
    static func card(_ random: inout SplitMix64) -> String {
        var digits = [4] + (0..<14).map { _ in random.below(10) }
        let sum = digits.reversed().enumerated().reduce(0) { sum, pair in
            let doubled = pair.offset % 2 == 0 ? pair.element * 2 : pair.element
            return sum + (doubled > 9 ? doubled - 9 : doubled)
        }
        digits.append((10 - sum % 10) % 10)
        return digits.map(String.init).joined()
    }

    static func ssn(_ random: inout SplitMix64) -> String {
        let area = 1 + random.below(665)
        let group = 1 + random.below(99)
        let serial = 1 + random.below(9999)
        return String(format: "%03d-%02d-%04d", area == 666 ? 667 : area, group, serial)
    }

    static func iban(_ random: inout SplitMix64) -> String {
        let bban = "WEST" + (0..<14).map { _ in String(random.below(10)) }.joined()
        let rearranged = bban + "GB00"
        var remainder = 0
        for character in rearranged {
            let value = character.isLetter ? Int(character.asciiValue! - 55) : Int(String(character))!
            for digit in String(value) { remainder = (remainder * 10 + Int(String(digit))!) % 97 }
        }
        return "GB" + String(format: "%02d", 98 - remainder) + bban
    }
}

/// One scripted message.
struct ScriptedMessage {
    var text: String
    var tags: Bool
    /// `/model` to send first, if any.
    var switchTo: String?
}

/// A value shared between the client threads, behind a `Mutex`.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// What the run observed.
struct LeakRunResult {
    var finals: [String: Int] = [:]
    var taggedAt: [Int: Int] = [:]
    var leaks = 0
    var canaryLeaks = 0
    var externalRequests = 0
    var taggedExternalDecisions = 0
    var modelCalls = 0
    /// `model.decision` records that allowed an attempt (each must have its `model.call`).
    var allowedDecisions = 0
}

enum LeakRun {
    static let users = (0..<8).map { "user\($0)" }

    /// The seeded scripts: `conversations` × `messages`.
    static func scripts(conversations: Int, messages: Int) -> [[ScriptedMessage]] {
        var random = SplitMix64(seed: 20_261_129)
        return (0..<conversations).map { c in
            var model = "default"
            return (0..<messages).map { m in
                var words = ["mk-\(c)-\(m)-", "please", "summarise", "the", "note", "for", "today"]
                let tagged = random.below(5) == 0
                if tagged {
                    let data: String
                    switch random.below(3) {
                    case 0: data = "card " + SensitiveData.card(&random)
                    case 1: data = "ssn " + SensitiveData.ssn(&random)
                    default: data = "iban " + SensitiveData.iban(&random)
                    }
                    words.insert("\(data) ref zq\(c)x\(m)canary", at: 1 + random.below(words.count))
                }
                switch random.below(100) {
                case 0..<2: words.append("fault-500-vpc")
                case 2..<4: words.append("fault-cut-vpc")
                case 4..<5: words.append("fault-malformed-vpc")
                case 5..<8: words.append("fault-500-ext")
                case 8..<10: words.append("fault-cut-ext")
                case 10..<11: words.append("fault-malformed-ext")
                case 11..<12: words.append("fault-stall-ext")
                default: break
                }
                var switchTo: String?
                if random.below(8) == 0, model != "external-gpt" {
                    switchTo = "external-gpt"
                } else if model == "external-gpt", random.below(3) == 0 {
                    switchTo = "vpc-llama"
                }
                if let switchTo { model = switchTo }
                // A restart ends the session: the model choice starts over.
                if m == messages / 2 - 1 { model = "default" }
                return ScriptedMessage(text: words.joined(separator: " "), tags: tagged, switchTo: switchTo)
            }
        }
    }

    /// The recorder's answer, chosen by the newest message's marker words.
    static func rule(_ suffix: String) -> @Sendable (String) -> RecorderBehaviour? {
        { body in
            guard let data = body.data(using: .utf8),
                let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let messages = json["messages"] as? [[String: Any]],
                let last = messages.last?["content"] as? String
            else { return nil }
            if last.contains("fault-500-\(suffix)") { return .fail }
            if last.contains("fault-cut-\(suffix)") { return .cut }
            if last.contains("fault-malformed-\(suffix)") { return .malformed }
            if last.contains("fault-stall-\(suffix)") { return .stall }
            return .reply(["fine", ", ", "thanks"])
        }
    }

    /// Runs the scripts through a fresh server, restarting it halfway.
    static func run(conversations: Int, messages: Int, taggedResidency: String) async throws -> LeakRunResult {
        let server = try await LeakServer(users: users, taggedResidency: taggedResidency)
        server.vpc.setRule(rule("vpc"))
        server.external.setRule(rule("ext"))
        let scripts = scripts(conversations: conversations, messages: messages)
        let ids = Shared<[Int: String]>([:])
        let result = Shared(LeakRunResult())
        for (phase, range) in [0..<messages / 2, messages / 2..<messages].enumerated() {
            try server.start()
            let port = server.port
            let failures = Shared<[String]>([])
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let group = DispatchGroup()
                for (k, user) in users.enumerated() {
                    group.enter()
                    Thread.detachNewThread {
                        defer { group.leave() }
                        do {
                            let client = try LeakServer.client(port: port, user: user)
                            for c in stride(from: k, to: conversations, by: users.count) {
                                if phase == 0 {
                                    let created = try client.exchange("/new")
                                    let id = String(created.last!.dropFirst("OK conversation=".count))
                                    ids.withLock { $0[c] = id }
                                } else {
                                    let id = ids.withLock { $0[c]! }
                                    let opened = try client.exchange("/open \(id)")
                                    guard opened.last?.hasPrefix("OK") == true else {
                                        throw LineClientError(description: "\(opened)")
                                    }
                                }
                                for m in range {
                                    let message = scripts[c][m]
                                    if let model = message.switchTo {
                                        _ = try client.exchange("/model \(model)")
                                    }
                                    if message.tags {
                                        result.withLock { if $0.taggedAt[c] == nil { $0.taggedAt[c] = m } }
                                    }
                                    let lines = try client.exchange(message.text)
                                    let final = lines.last!
                                    let code =
                                        final.hasPrefix("OK") ? "ok" : String(final.split(separator: " ")[1])
                                    result.withLock { $0.finals[code, default: 0] += 1 }
                                }
                            }
                            _ = try? client.exchange("/quit")
                        } catch {
                            failures.withLock { $0.append("\(user): \(error)") }
                        }
                    }
                }
                group.notify(queue: .global()) { done.resume() }
            }
            let status = server.stop()
            #expect(failures.value.isEmpty, "\(failures.value)")
            #expect(status == 0)
        }

        var outcome = result.value
        let externalBodies = server.external.completionRequests.map(\.body)
        outcome.externalRequests = externalBodies.count
        for body in externalBodies {
            for marker in body.components(separatedBy: "mk-").dropFirst() {
                let parts = marker.split(separator: "-", maxSplits: 2)
                guard parts.count >= 2, let c = Int(parts[0]), let m = Int(parts[1]) else { continue }
                if let point = outcome.taggedAt[c], m >= point { outcome.leaks += 1 }
            }
            // Every planted string ends in "canary" and nothing else sent holds that word.
            if body.contains("canary") { outcome.canaryLeaks += 1 }
        }
        for line in server.auditLines {
            if line.contains("\"action\":\"model.call\"") { outcome.modelCalls += 1 }
            if line.contains("\"action\":\"model.decision\""), line.contains("\"decision\":\"allowed\"") {
                outcome.allowedDecisions += 1
            }
            if line.contains("\"action\":\"model.decision\""), line.contains("\"provider\":\"external-gpt\""),
                line.contains("\"decision\":\"allowed\""), !line.contains("\"tags\":[]"), line.contains("\"tags\":[")
            {
                outcome.taggedExternalDecisions += 1
            }
        }
        await server.close()
        return outcome
    }
}

@Suite(.serialized) struct LeakTests {
    @Test func taggedConversationsNeverReachTheExternalProviderOverTheRealServer() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await LeakRun.run(conversations: 500, messages: 20, taggedResidency: "on-prem, vpc")
        print(
            "leak test over enclave serve: \(result.finals), external requests \(result.externalRequests), "
                + "model.call records \(result.modelCalls), \(clock.now - started)")
        #expect(result.leaks == 0)
        #expect(result.canaryLeaks == 0)
        #expect(result.taggedExternalDecisions == 0)
        // The run exercised what it claims: tagged conversations, external traffic, refusals and faults.
        #expect(result.taggedAt.count > 400)
        #expect(result.externalRequests > 300)
        // (A session keeps its `/model` choice across conversations, so refusals are frequent.)
        #expect((result.finals["policy-blocked"] ?? 0) > 500)
        #expect((result.finals["provider-unavailable"] ?? 0) > 100)
        #expect((result.finals["ok"] ?? 0) > 5000)
        #expect(result.modelCalls > 5000)
        // Every attempt announced before any byte left has its call record with the outcome.
        #expect(result.modelCalls == result.allowedDecisions)
        #expect(result.finals["internal"] == nil)
        #expect(result.finals.values.reduce(0, +) == 10_000)
    }

    @Test func theSameRunFindsLeaksWhenThePolicyLetsTaggedDataOut() async throws {
        let result = try await LeakRun.run(
            conversations: 40, messages: 20, taggedResidency: "on-prem, vpc, external")
        #expect(result.leaks > 0)
        #expect(result.canaryLeaks > 0)
        #expect(result.taggedExternalDecisions > 0)
    }
}
