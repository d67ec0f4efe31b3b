// Provider faults at the server level: `enclave serve` with recording servers as its `vpc` and
// `external` providers. Each fault (provider down, slow past its read timeout, HTTP 500, malformed SSE,
// a stream that stops midway) ends the message with one final line with a clear code; a fallback only
// ever goes to a provider of no wider residency (external → vpc, never vpc → external); the audit log
// holds a `model.call` record with the outcome for every attempt. And a reply through the `openai`
// provider reaches the client piece by piece, before the recorder has sent the rest.
import EnclaveClient
import EnclaveTestSupport
import Foundation
import Testing

@Suite(.serialized) struct RoutingFaultTests {
    /// The sixth field of a `/models` row: the session's choice and an open circuit breaker.
    static func mark(_ row: String) -> String? {
        let fields = row.split(separator: "\t", omittingEmptySubsequences: false)
        return fields.count > 5 ? String(fields[5]) : nil
    }

    static func rule(_ suffix: String) -> @Sendable (String) -> RecorderBehaviour? {
        let base = LeakRun.rule(suffix)
        return { body in body.contains("fault-hang-\(suffix)") ? .hang : base(body) }
    }

    /// (provider, error) of every failed `model.call` record, and the providers of the ok ones.
    static func calls(_ server: LeakServer) -> (failed: [String], ok: [String]) {
        var failed: [String] = []
        var ok: [String] = []
        for line in server.auditLines where line.contains("\"action\":\"model.call\"") {
            let provider = line.contains("\"provider\":\"external-gpt\"") ? "external-gpt" : "vpc-llama"
            if let range = line.range(of: "\"error\":\"") {
                failed.append(provider + ":" + line[range.upperBound...].prefix { $0 != "\"" })
            } else if line.contains("\"outcome\":\"ok\"") {
                ok.append(provider)
            }
        }
        return (failed, ok)
    }

    @Test func everyFaultEndsWithAClearFinalLineFallsBackInsideTheAllowedSetAndIsRecorded() async throws {
        let server = try await LeakServer(
            users: ["ann"], taggedResidency: "on-prem, vpc", readTimeoutMs: 1000, cooldownMs: 30_000)
        server.vpc.setRule(Self.rule("vpc"))
        server.external.setRule(Self.rule("ext"))
        try server.start()
        let client = try LeakServer.client(port: server.port, user: "ann")
        func send(_ text: String, model: String?) throws -> String {
            _ = try client.exchange("/new")
            if let model { _ = try client.exchange("/model \(model)") }
            return try client.exchange(text).last!
        }

        // An external HTTP 500 before the first token: fallback to vpc (narrower), served.
        #expect(try send("hello fault-500-ext", model: "external-gpt").contains("provider=vpc-llama"))
        // Faults of the vpc provider: no fallback to external (wider), a clear final line.
        let before = server.external.completionRequests.count
        let failed500 = try send("hello fault-500-vpc", model: "vpc-llama")
        #expect(failed500.hasPrefix("ERR provider-unavailable "), "\(failed500)")
        #expect(try send("hello", model: "vpc-llama").hasPrefix("OK "))
        let malformed = try send("hello fault-malformed-vpc", model: "vpc-llama")
        #expect(malformed.hasPrefix("ERR provider-unavailable ") && malformed.contains("incomplete"), "\(malformed)")
        #expect(try send("hello", model: "vpc-llama").hasPrefix("OK "))
        let cut = try send("hello fault-cut-vpc", model: "vpc-llama")
        #expect(cut.hasPrefix("ERR provider-unavailable ") && cut.contains("incomplete"), "\(cut)")
        #expect(server.external.completionRequests.count == before, "a vpc failure widened to the external provider")
        // External slower than its read timeout: fallback to vpc; its breaker opens, so the next message
        // that asks for it goes straight to vpc without waiting, and `/models` shows it down.
        #expect(try send("hello fault-hang-ext", model: "external-gpt").contains("provider=vpc-llama"))
        let hung = server.external.completionRequests.count
        #expect(try send("hello again", model: "external-gpt").contains("provider=vpc-llama"))
        #expect(server.external.completionRequests.count == hung)
        let models = try client.exchange("/models")
        #expect(
            models.contains { $0.hasPrefix("= external-gpt\t") && Self.mark($0)?.hasSuffix("down") == true },
            "\(models)")
        #expect(server.stop() == 0)

        let (failedCalls, okCalls) = Self.calls(server)
        #expect(
            failedCalls == [
                "external-gpt:provider-http-error", "vpc-llama:provider-http-error",
                "vpc-llama:provider-malformed-stream", "vpc-llama:provider-stream-cut", "external-gpt:provider-timeout",
            ])
        #expect(okCalls == Array(repeating: "vpc-llama", count: 5))
        await server.close()
    }

    @Test func aProviderThatIsDownFallsBackAndIsShownDown() async throws {
        let server = try await LeakServer(users: ["ann"], taggedResidency: "on-prem, vpc", cooldownMs: 30_000)
        try await server.external.stop()
        try server.start()
        let client = try LeakServer.client(port: server.port, user: "ann")
        _ = try client.exchange("/model external-gpt")
        let reply = try client.exchange("hello").last!
        #expect(reply.contains("provider=vpc-llama"), "\(reply)")
        let models = try client.exchange("/models")
        #expect(models.contains { $0.hasPrefix("= external-gpt\t") && Self.mark($0) == "selected,down" }, "\(models)")
        #expect(server.stop() == 0)
        let (failedCalls, okCalls) = Self.calls(server)
        #expect(failedCalls == ["external-gpt:provider-down"])
        #expect(okCalls == ["vpc-llama"])
        await server.close()
    }

    @Test func aReplyThroughTheOpenAIProviderReachesTheClientPieceByPiece() async throws {
        let server = try await LeakServer(users: ["ann"], taggedResidency: "on-prem, vpc")
        server.vpc.setDefault(.gated(["Hel", "lo ", "there"]))
        try server.start()
        let client = try LeakServer.client(port: server.port, user: "ann")
        try client.send("hello")
        // The first piece is on the client's socket while the recorder still holds the rest.
        try client.waitFor("> Hel")
        #expect(!server.vpc.gateSentRest)
        server.vpc.release()
        let lines = try client.readUntilFinal()
        #expect(lines.contains("> Hello there"), "\(lines)")
        #expect(lines.last?.hasPrefix("OK conversation=") == true)
        #expect(server.stop() == 0)
        await server.close()
    }
}
