// The shapes of issue 16 through real conversations on `enclave serve`, whose external provider is a
// recording server: identifiers next to expiry dates, in CSV rows, side by side, in fullwidth digits,
// grouped with no-break spaces, tabs or double spaces, lower-case and dashed IBANs, split over a line
// break in a `/paste`, dates of birth in written forms, an identifier split across two messages, a
// provider's reply holding a card number, and a title holding one. Every one of them asks for the
// external provider; zero bytes of them may reach it. A control message that is not sensitive does
// reach it, so the check can fail.
import EnclaveClient
import EnclaveTestSupport
import Foundation
import Testing

@Suite(.serialized) struct DetectorLeakTests {
    static let policy = """
        version: 1
        tags:
          pii: {description: personal identifiers, detectors: [us-ssn, phone]}
          pci: {description: card and bank data, detectors: [credit-card, iban]}
          phi: {description: patient data, detectors: [uk-nhs, dob]}
        rules:
          - name: untagged-anywhere
            when: {untagged: true}
            allow: {residency: [on-prem, vpc, external]}
          - name: tagged-inside
            when: {tags: {any: [pii, pci, phi]}}
            allow: {residency: [on-prem, vpc]}

        """

    static func grouped(_ digits: String, _ separator: String) -> String {
        stride(from: 0, to: digits.count, by: 4).map { start in
            String(digits.dropFirst(start).prefix(4))
        }.joined(separator: separator)
    }

    static func fullwidth(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { s in
                    s.properties.numericType == .decimal ? Unicode.Scalar(s.value - 0x30 + 0xFF10)! : s
                }))
    }

    /// The sensitive messages, each ending in a unique word with "canary" that must never reach external.
    static func shapes() -> [String] {
        var random = SplitMix64(seed: 16)
        let card = SensitiveData.card(&random)
        let second = SensitiveData.card(&random)
        let iban = SensitiveData.iban(&random)
        let ssn = SensitiveData.ssn(&random)
        let messages = [
            "Card \(grouped(card, " ")) 06/31",
            "alice,\(card),10/27,GBP 12.40",
            "cards \(grouped(card, " ")) \(grouped(second, " ")) both declined",
            "card \(grouped(card, " ")) cvv 123 tel 020 7946 0958",
            "SSN \(ssn) 01/02/1990", "SSN \(ssn) +1 212 555 0143",
            "NHS number 943 476 5919 01/02/1990", "nhs 943 476 5919 tel 020 7946 0958",
            "card " + fullwidth(grouped(card, " ")), "card \(grouped(card, "\u{00A0}"))",
            "card \(grouped(card, "\u{202F}"))", "card \(grouped(card, "\t"))", "card \(grouped(card, "  "))",
            "iban \(iban.lowercased())", "iban \(grouped(iban, "-"))", "iban " + grouped(iban, " ").capitalized,
            "born 14th March 1980", "DOB 14031980", "14 Mar 1980 (DOB)", "Date of birth:\nMarch 14, 1980",
            "card \(grouped(card, " - "))", "card \(grouped(card, "_"))",
            "ring 07700 900123 4pm", "phone 555 234 5678 12/03/2024", "+44 20 7946 0018 020 7946 0019",
        ]
        return messages.enumerated().map { "\($1) ref zq\($0)canary" }
    }

    @Test func theIssueShapesNeverReachTheExternalProvider() async throws {
        let server = try await LeakServer(users: ["alice"], taggedResidency: "on-prem, vpc")
        try Self.policy.write(
            to: server.directory.appendingPathComponent("policies/policy.yaml"), atomically: true, encoding: .utf8)
        var random = SplitMix64(seed: 1616)
        let card = SensitiveData.card(&random)
        let reply = "Your card on file is \(Self.grouped(card, " ")) zqreplycanary"
        server.vpc.setRule { body in
            body.contains("send-card")
                ? .reply([
                    "Your card on file is ", String(reply.dropFirst(21).prefix(7)),
                    String(reply.dropFirst(28)),
                ]) : .reply(["fine"])
        }
        server.external.setRule { _ in .reply(["fine"]) }
        try server.start()
        let client = try LeakServer.client(port: server.port, user: "alice")
        var finals: [String] = []

        // Each shape in a conversation of its own, sent to the external provider by choice.
        _ = try client.exchange("/model external-gpt")
        for shape in Self.shapes() {
            _ = try client.exchange("/new")
            finals.append(try client.final(shape))
        }
        // A number split over a line break inside a /paste.
        _ = try client.exchange("/new")
        try client.send("/paste")
        try client.send("card \(card.prefix(8))")
        try client.send("\(card.dropFirst(8)) zqpastecanary")
        finals.append(try client.final("."))
        // An identifier split across two consecutive messages: the first half alone is not sensitive.
        _ = try client.exchange("/new")
        finals.append(try client.final("my card is \(Self.grouped(String(card.prefix(8)), " "))"))
        finals.append(try client.final("\(Self.grouped(String(card.dropFirst(8)), " ")) zqsplitcanary"))
        // A title holding a card number tags its conversation.
        _ = try client.exchange("/new card \(card)")
        finals.append(try client.final("hello zqtitlecanary"))
        // A provider's reply holding a card number tags the conversation before the next call.
        _ = try client.exchange("/model vpc-llama")
        _ = try client.exchange("/new")
        finals.append(try client.final("send-card please"))
        _ = try client.exchange("/model external-gpt")
        finals.append(try client.final("thanks zqaftercanary"))
        // The control: nothing sensitive, so it goes out.
        _ = try client.exchange("/new")
        finals.append(try client.final("what is a good name for a cat ctl-visible"))
        // `/tag` takes only the policy's tags: free text would be user content in the audit log.
        let tagger = try LeakServer.client(port: server.port, user: "alice")
        _ = try tagger.exchange("/new")
        let freeText = try tagger.final("/tag mrs-jones-hiv")
        let declared = try tagger.final("/tag pci")
        _ = try? tagger.exchange("/quit")
        _ = try? client.exchange("/quit")
        let status = server.stop()

        let bodies = server.external.completionRequests.map(\.body)
        let vpcBodies = server.vpc.completionRequests.map(\.body)
        let audit = server.auditLines.joined(separator: "\n")
        await server.close()
        #expect(!audit.contains("mrs-jones"), "a free-text tag reached the audit log")
        #expect(status == 0)
        #expect(bodies.contains { $0.contains("ctl-visible") }, "the control never reached the external provider")
        #expect(vpcBodies.contains { $0.contains("send-card") }, "the reply scenario never reached the vpc provider")
        let leaked = bodies.filter {
            $0.contains("canary") || $0.contains(card) || $0.contains(Self.grouped(card, " "))
        }
        #expect(leaked.isEmpty, "\(leaked.count) external request(s) carried sensitive text")
        #expect(!finals.contains { $0.hasPrefix("ERR internal") }, "\(finals)")
        #expect(freeText.hasPrefix("ERR bad-arguments"), "\(freeText)")
        #expect(declared.hasPrefix("OK") && declared.contains("pci"), "\(declared)")
    }
}
