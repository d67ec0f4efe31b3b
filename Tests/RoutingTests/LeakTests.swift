// The router-level leak test: 500 conversations × 20 messages through detection, the real policy
// decision, the router (with a canary) and the gateway's plan walk. The external provider is the
// recording HTTP server on loopback, reached through the real OpenAIProvider; the two `vpc`
// providers are in-process recorders (the ~9,000 calls they serve would cost most of the test's
// time over HTTP in a debug build; that HTTP path is covered by OpenAIProviderTests and
// PlanRunTests). 20% of messages carry a Luhn-valid card number and a unique canary string at a
// random position; users randomly ask for the external model, and a conversation then stays on it
// (its sticky provider) until the policy forbids it; providers randomly fail (HTTP 500, or a stream
// cut after the first piece); halfway, the registry is torn down and rebuilt (a restart).
// Afterwards, the external recorder's bytes hold no canary string and no request for a
// conversation at or after the message that tagged it.
import EnclaveTestSupport
import Foundation
import Inference
import Policy
import Testing

@testable import Routing

@Suite struct LeakTests {
    static let policyYAML = """
        version: 1
        tags:
          pii: {description: personal or payment data, detectors: [credit-card, us-ssn, iban]}
        rules:
          - name: untagged-anywhere
            when: {untagged: true}
            allow: {residency: [on-prem, vpc, external]}
          - name: pii-stays-inside
            when: {tags: {any: [pii]}}
            allow: {residency: [on-prem, vpc]}
        """

    /// A Luhn-valid 16-digit Visa-like number, computed here (independently of the policy's checksum code).
    static func cardNumber(_ random: inout SplitMix64) -> String {
        var digits = [4] + (0..<14).map { _ in Int(random.next() % 10) }
        var sum = 0
        for (index, digit) in digits.reversed().enumerated() {
            let weighted = index % 2 == 0 ? digit * 2 : digit
            sum += weighted > 9 ? weighted - 9 : weighted
        }
        digits.append((10 - sum % 10) % 10)
        return digits.map(String.init).joined()
    }

    /// The conversation and message index of every `mk-<c>-<m>-` marker in a request body.
    static func markers(in body: String) -> [(conversation: Int, message: Int)] {
        body.components(separatedBy: "mk-").dropFirst().compactMap { rest in
            let parts = rest.split(separator: "-", maxSplits: 2)
            guard parts.count >= 2, let c = Int(parts[0]), let m = Int(parts[1]) else { return nil }
            return (c, m)
        }
    }

    /// Faults are requested by the newest message, so retries and fallbacks see the same behaviour.
    static func faultRule(provider: String) -> @Sendable (String) -> RecorderBehaviour? {
        { body in
            guard let data = body.data(using: .utf8),
                let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let messages = json["messages"] as? [[String: String]], let last = messages.last?["content"]
            else { return nil }
            if last.contains("fault-500-\(provider)") { return .fail }
            if last.contains("fault-cut-\(provider)") { return .cut }
            return .reply(["ok"])
        }
    }

    /// An in-process `vpc` recorder: counts calls, fails as the newest message asks.
    struct VPCRecorder: ChatProvider {
        let info: ProviderInfo
        let calls = Locked(0)

        init(name: String) {
            info = ProviderInfo(name: name, residency: .vpc, model: name, contextLength: 8192)
        }

        func stream(_ request: ChatRequest) -> AsyncThrowingStream<ProviderEvent, any Error> {
            calls.withLock { $0 += 1 }
            let last = request.messages.last?.content ?? ""
            return AsyncThrowingStream { continuation in
                continuation.yield(.model("vpc-recorder"))
                if last.contains("fault-500-vpc") {
                    continuation.finish(throwing: RoutingError.provider(.httpStatus, "HTTP 500"))
                    return
                }
                continuation.yield(.text("ok"))
                if last.contains("fault-cut-vpc") {
                    continuation.finish(throwing: RoutingError.provider(.streamCut))
                    return
                }
                continuation.yield(.usage(tokensIn: 10, tokensOut: 1))
                continuation.finish()
            }
        }

        func health() async -> Bool { true }
    }

    struct Conversation {
        var tags: Set<String> = []
        var sticky: String?
        var history: [ChatTurn] = []
        var taggedAt: Int?
    }

    @Test func taggedConversationsNeverReachTheExternalRecorder() async throws {
        let policy = try PolicySet.parse(files: [(name: "leak.yaml", contents: Self.policyYAML)])
        let vpc = VPCRecorder(name: "vpc-llama")
        let candidate = VPCRecorder(name: "vpc-next")
        let external = try await RecordingServer.start()
        external.setRule(Self.faultRule(provider: "ext"))
        // The canary is another vpc provider, so that nothing but the policy decision stands between
        // a conversation that chose (and stuck to) the external model and that model once it is tagged.
        let canary = CanaryConfiguration(provider: "vpc-next", percent: 20, key: Array("leak test canary key".utf8))
        let prompts = PromptSelection(defaultPrompt: PromptReference(name: "assistant", version: 1))
        let library = try PromptLibrary(directory: repositoryRoot + "/prompts", selection: prompts)
        func makeRegistry() throws -> ProviderRegistry {
            func provider(_ name: String, _ residency: Residency, _ server: RecordingServer) throws -> OpenAIProvider {
                try OpenAIProvider(
                    info: ProviderInfo(name: name, residency: residency, model: name, contextLength: 8192),
                    settings: OpenAIProviderSettings(
                        baseURL: server.baseURL, connectTimeout: .seconds(2), readTimeout: .seconds(5), retries: 1,
                        retryBackoff: .milliseconds(1)))
            }
            return ProviderRegistry(
                providers: [vpc, candidate, try provider("external-gpt", .external, external)],
                defaultProvider: "vpc-llama", canary: canary, prompts: prompts)
        }

        let conversationCount = 500
        let messagesPerConversation = 20
        var random = SplitMix64(seed: 2026)
        // Scripts decided up front (seeded), so the run is deterministic whatever the interleaving.
        var scripts: [[(text: String, canary: String?, requested: String?)]] = []
        for c in 0..<conversationCount {
            var script: [(String, String?, String?)] = []
            for m in 0..<messagesPerConversation {
                var words = ["mk-\(c)-\(m)-", "please", "summarise", "the", "note", "for", "today"]
                var planted: String?
                if random.next() % 5 == 0 {
                    let secret = "zq\(c)x\(m)canary"
                    planted = secret
                    let position = Int(random.next() % UInt64(words.count + 1))
                    words.insert("card \(Self.cardNumber(&random)) ref \(secret)", at: max(1, position))
                }
                switch random.next() % 20 {
                case 0: words.append("fault-500-vpc")
                case 1: words.append("fault-cut-vpc")
                case 2: words.append("fault-500-ext")
                case 3: words.append("fault-cut-ext")
                default: break
                }
                let requested: String? = random.next() % 8 == 0 ? "external-gpt" : nil
                script.append((words.joined(separator: " "), planted, requested))
            }
            scripts.append(script)
        }

        let outcomes = Locked<[String: Int]>([:])
        let taggedAt = Locked<[Int: Int]>([:])
        let canaries = Locked<[String]>([])
        func count(_ key: String) { outcomes.withLock { $0[key, default: 0] += 1 } }

        // Two runs of the server process: conversations 0..<250, then a restart, then the rest.
        for half in [0..<conversationCount / 2, conversationCount / 2..<conversationCount] {
            let registry = try makeRegistry()
            let executor = ProviderGateway(registry: registry, prompts: library)
            let router = registry.router
            await withTaskGroup(of: Void.self) { group in
                var next = half.lowerBound
                func launch(_ c: Int) {
                    let script = scripts[c]
                    group.addTask {
                        var conversation = Conversation()
                        for (m, message) in script.enumerated() {
                            if let planted = message.canary { canaries.withLock { $0.append(planted) } }
                            let detection: Detection?
                            do {
                                detection = try policy.detect(message.text)
                            } catch {
                                detection = nil
                            }
                            conversation.tags = ConversationTags.accumulate(
                                existing: conversation.tags, detection: detection, policy: policy, user: "ann",
                                groups: ["staff"])
                            if !conversation.tags.isEmpty, conversation.taggedAt == nil {
                                conversation.taggedAt = m
                                taggedAt.withLock { $0[c] = m }
                            }
                            let decision = evaluate(
                                policy,
                                DecisionRequest(
                                    tags: conversation.tags, user: "ann", groups: ["staff"],
                                    requestedProvider: message.requested,
                                    providers: router.descriptors, detectorCounts: detection?.countsByDetector ?? [:],
                                    detectionFailed: detection == nil))
                            let request = RouteRequest(
                                conversation: "conv-\(c)", user: "ann", groups: ["staff"],
                                requestedProvider: message.requested,
                                stickyProvider: conversation.sticky)
                            let userTurn = ChatTurn(role: .user, content: message.text)
                            let plan: RoutePlan
                            do {
                                plan = try router.plan(request, decision: decision)
                            } catch let error as RoutingError {
                                count(error.code)
                                conversation.history.append(userTurn)  // stored before routing, as ChatCore does
                                continue
                            } catch {
                                count("unexpected")
                                continue
                            }
                            do {
                                let result = try await executor.run(
                                    plan: plan, history: conversation.history, message: message.text,
                                    maxTokens: 32,
                                    beforeCall: { _ in }, afterCall: { _ in }, onText: { _ in })
                                conversation.sticky = result.record.provider
                                conversation.history += [userTurn, ChatTurn(role: .assistant, content: result.reply)]
                                count("ok")
                            } catch let failure as CallFailure {
                                count(failure.error.code)
                                conversation.history.append(userTurn)
                            } catch {
                                count("unexpected")
                                conversation.history.append(userTurn)
                            }
                        }
                    }
                }
                for _ in 0..<8 where next < half.upperBound {
                    launch(next)
                    next += 1
                }
                while await group.next() != nil {
                    if next < half.upperBound {
                        launch(next)
                        next += 1
                    }
                }
            }
            await registry.shutdown()
        }

        let externalBodies = external.completionRequests.map(\.body)
        let tagged = taggedAt.withLock { $0 }
        let planted = canaries.withLock { $0 }
        var leaks = 0
        for body in externalBodies {
            for marker in Self.markers(in: body) {
                if let point = tagged[marker.conversation], marker.message >= point { leaks += 1 }
            }
            // Every planted string ends in "canary" and nothing else sent contains that word, so one
            // byte search per body covers all of them (each of ~2,000 searched separately is slow).
            if Array(body.utf8).firstRange(of: Array("canary".utf8)) != nil { leaks += 1 }
        }
        let counts = outcomes.withLock { $0 }
        #expect(leaks == 0)
        #expect(counts["unexpected"] == nil)
        // The run exercised what it claims to: tagged conversations, external traffic, refusals, faults.
        #expect(tagged.count > 400)
        #expect(externalBodies.count > 200)
        #expect((counts["policy-blocked"] ?? 0) > 100)
        #expect((counts["provider-unavailable"] ?? 0) > 100)
        #expect((counts["ok"] ?? 0) > 5000)
        #expect(planted.count > 1500)
        #expect(vpc.calls.value > 3000)
        #expect(candidate.calls.value > 100)
        try await external.stop()
    }
}
