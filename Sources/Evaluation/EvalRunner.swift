// Runs a gold suite against providers through ChatCore's send path: the same detectors, policy gate,
// router and audit log as live traffic, as a dedicated eval user (every call is in the audit log under
// that actor, with the item's conversation). Each item is a new conversation carrying the item's tags;
// earlier turns of a dialogue are stored in it first (and their tags detected) so the policy sees what
// a live conversation would. The provider is the user's explicit choice: a provider the policy denies is
// never called and the item is reported as skipped by policy. A fallback to another provider counts as a
// failure of the one asked (the run measures each provider, not the route).
//
// Items run concurrently up to `concurrency` per provider, every provider at once.
public import ChatCore
import Foundation
import Policy
public import Routing
public import Storage
import Synchronization

/// What a run needs to know besides the suite.
public struct EvalOptions: Sendable {
    public var providers: [String]
    public var repetitions: Int
    /// Items in flight at once per provider.
    public var concurrency: Int
    /// The per-provider limit a run uses unless told otherwise (`eval run` and `eval bench` share it).
    public static let defaultConcurrency = 4
    /// The provider that rates rubric items (itself policy-gated and audited), if any.
    public var judge: String?
    public var user: Principal
    public var maxTokens: Int

    public init(
        providers: [String], repetitions: Int = 1, concurrency: Int = EvalOptions.defaultConcurrency,
        judge: String? = nil, user: Principal = Principal(name: "eval", role: .staff, groups: []), maxTokens: Int = 256
    ) {
        self.providers = providers
        self.repetitions = max(1, repetitions)
        self.concurrency = max(1, concurrency)
        self.judge = judge
        self.user = user
        self.maxTokens = maxTokens
    }
}

/// A finished item, for progress displays.
public struct EvalProgress: Sendable {
    public var done: Int
    public var total: Int
    public var last: ItemResult
}

/// Runs suites.
public struct EvalRunner: Sendable {
    let core: ChatCore
    let store: any ChatStore
    let policy: PolicyDirectoryGate
    let gateway: ProviderGateway
    /// The attempt that served (or last failed) each conversation, noted by ChatCore's attempt observer.
    let attempts: LastAttempts
    public let options: EvalOptions

    public init(
        store: any ChatStore, policy: PolicyDirectoryGate, gateway: ProviderGateway, audit: any AuditTrail,
        options: EvalOptions
    ) {
        var configuration = ChatCore.Configuration()
        configuration.maxTokens = options.maxTokens
        // The eval user is limited by the run's own concurrency, not by a chat user's budget.
        configuration.budget = UserLimiter.Budget(
            messagesPerMinute: 1e9, burst: 1e9, concurrentGenerations: Int.max / 2)
        let attempts = LastAttempts()
        configuration.attemptObserver = { attempts.note($1, of: $0) }
        self.attempts = attempts
        self.gateway = gateway
        self.store = store
        self.policy = policy
        self.options = options
        core = ChatCore(
            store: store, passwords: NoPasswords(), policy: policy, gateway: gateway, audit: audit,
            configuration: configuration)
    }

    /// The providers' residency, model and prices as the gateway knows them.
    public func providerMetadata(prices: [String: (input: Double, output: Double)]) -> [ProviderMeta] {
        options.providers.map { name in
            let info = gateway.router.info(name)
            let price = prices[name] ?? (0, 0)
            return ProviderMeta(
                name: name, residency: info?.residency.rawValue ?? "unknown", model: info?.model ?? "-",
                inputPerMillion: price.input, outputPerMillion: price.output)
        }
    }

    /// Runs every item against every provider `repetitions` times.
    public func run(
        _ suite: GoldSuite, id: String? = nil,
        prices: [String: (input: Double, output: Double)] = [:],
        progress: @escaping @Sendable (EvalProgress) -> Void = { _ in }
    ) async -> EvalRun {
        let started = Date()
        let total = suite.items.count * options.providers.count * options.repetitions
        let done = FinishedCount()
        let report: @Sendable (ItemResult) -> Void = { result in
            progress(EvalProgress(done: done.increment(), total: total, last: result))
        }
        let work = suite.items.flatMap { item in (0..<options.repetitions).map { (item, $0) } }
        let results = await withTaskGroup(of: [ItemResult].self) { group in
            for provider in options.providers {
                group.addTask { await runProvider(provider, work: work, report: report) }
            }
            var all: [ItemResult] = []
            for await part in group { all += part }
            return all
        }
        let order = Dictionary(uniqueKeysWithValues: options.providers.enumerated().map { ($1, $0) })
        let itemOrder = Dictionary(uniqueKeysWithValues: suite.items.enumerated().map { ($1.id, $0) })
        let sorted = results.sorted {
            (order[$0.provider]!, itemOrder[$0.item]!, $0.repetition)
                < (order[$1.provider]!, itemOrder[$1.item]!, $1.repetition)
        }
        return EvalRun(
            id: id ?? UUID().uuidString.lowercased(), suite: suite.name, started: started, finished: Date(),
            repetitions: options.repetitions,
            judge: options.judge, providers: providerMetadata(prices: prices), categories: suite.categories,
            results: sorted)
    }

    /// One provider's items, at most `concurrency` at a time.
    private func runProvider(
        _ provider: String, work: [(GoldItem, Int)], report: @escaping @Sendable (ItemResult) -> Void
    ) async -> [ItemResult] {
        await withTaskGroup(of: ItemResult.self) { group in
            var results: [ItemResult] = []
            var next = 0
            while next < work.count || !group.isEmpty {
                while next < work.count && next - results.count < options.concurrency {
                    let (item, repetition) = work[next]
                    group.addTask { await runItem(item, provider: provider, repetition: repetition) }
                    next += 1
                }
                if let result = await group.next() {
                    report(result)
                    results.append(result)
                }
            }
            return results
        }
    }

    /// Sends one item to one provider and scores the reply.
    func runItem(_ item: GoldItem, provider: String, repetition: Int) async -> ItemResult {
        var result = ItemResult(
            item: item.id, category: item.category, weight: item.weight, graded: item.scorer.isGraded,
            provider: provider, repetition: repetition, outcome: .failed, score: 0)
        let exchange = await send(item.message, history: item.history, tags: item.tags, to: provider)
        result.ttftMs = exchange.ttftMs
        result.totalMs = exchange.totalMs
        if let attempt = exchange.served {
            result.providerMs = attempt.totalMs.rounded()
            result.tokensIn = attempt.tokensIn
            result.tokensOut = attempt.tokensOut
            result.costMicros = Int((attempt.cost * 1_000_000).rounded())
            result.modelID = attempt.modelID
            result.promptVersion = attempt.promptVersion
        }
        switch exchange.outcome {
        case .failure(let code) where code == ChatFailure.Code.policyBlocked.rawValue:
            result.outcome = .skippedByPolicy
            result.score = nil
        case .failure(let code):
            result.errorCode = code
        case .reply(let text):
            if let score = Scoring.score(text, item.scorer) {
                result.outcome = .scored
                result.score = score
            } else if case .rubric(let rubric, let reference) = item.scorer {
                (result.outcome, result.score, result.errorCode) = await judge(
                    item, reply: text, rubric: rubric, reference: reference)
            }
        }
        return result
    }

    /// Asks the judge to rate `reply`. The judge's conversation carries the item's tags, so the policy
    /// decides whether the judge may see the item at all.
    private func judge(_ item: GoldItem, reply: String, rubric: String, reference: String) async
        -> (ItemOutcome, Double?, String?)
    {
        guard let judge = options.judge else { return (.failed, 0, "no-judge") }
        let prompt = Scoring.judgePrompt(question: item.message, reply: reply, rubric: rubric, reference: reference)
        let verdict = await send(prompt, history: [], tags: item.tags, to: judge)
        switch verdict.outcome {
        case .reply(let text):
            guard let score = Scoring.judgeScore(text) else { return (.failed, 0, "judge-unreadable") }
            return (.scored, score, nil)
        case .failure(let code):
            return (.failed, 0, "judge-\(code)")
        }
    }

    enum Outcome {
        case reply(String)
        /// A ChatFailure code, or `fallback` when another provider answered.
        case failure(String)
    }

    struct Exchange {
        var outcome: Outcome
        var served: CallRecord?
        var ttftMs: Double?
        var totalMs: Double?
    }

    /// One message in a new conversation of the eval user, through ChatCore.
    func send(_ message: String, history: [GoldTurn], tags: [String], to provider: String) async -> Exchange {
        let user = options.user
        let id: ConversationID
        do {
            let defaults = await policy.defaultTags(user: user.name, groups: user.groups)
            id = try await store.createConversation(owner: user.name, title: nil, tags: defaults.union(tags))
            for turn in history {
                let found = try await policy.detect(turn.content).tags
                if !found.isEmpty { _ = try await store.addTags(found, to: id) }
                _ = try await store.append(NewMessage(role: turn.role, body: turn.content), to: id)
            }
        } catch {
            return Exchange(outcome: .failure(ChatFailure.Code.internal.rawValue))
        }
        let started = ContinuousClock.now
        var firstText: ContinuousClock.Instant?
        var text = ""
        let outcome: Outcome
        do {
            _ = try await core.send(
                message, conversation: id.rawValue, requestedModel: provider, as: user, origin: "eval",
                emit: { output in
                    guard case .text(let piece) = output else { return }
                    if firstText == nil { firstText = .now }
                    text += piece
                })
            outcome = .reply(text)
        } catch {
            outcome = .failure(error.code.rawValue)
        }
        let ended = ContinuousClock.now
        let served = attempts.take(id.rawValue)
        var exchange = Exchange(
            outcome: outcome, served: served, ttftMs: firstText.map { Self.ms($0 - started) },
            totalMs: Self.ms(ended - started))
        if case .reply = outcome, let served, served.provider != provider {
            exchange.outcome = .failure("fallback")
        }
        return exchange
    }

    static func ms(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15
    }
}

/// The last finished attempt of each conversation, so the runner gets the call record's tokens, cost and
/// model.
final class LastAttempts: Sendable {
    private let records = Mutex<[String: CallRecord]>([:])

    func note(_ record: CallRecord, of conversation: String) {
        records.withLock { $0[conversation] = record }
    }

    /// The last finished attempt of `conversation`, forgotten once taken.
    func take(_ conversation: String) -> CallRecord? {
        records.withLock { $0.removeValue(forKey: conversation) }
    }
}

/// How many items have finished, for progress reports from concurrent tasks.
final class FinishedCount: Sendable {
    private let count = Mutex(0)

    /// Counts one more and returns the new total.
    func increment() -> Int {
        count.withLock { value in
            value += 1
            return value
        }
    }
}

/// The eval's ChatCore never logs anyone in: no password ever verifies, and none is ever made.
struct NoPasswords: PasswordVerifier {
    let decoyHash = "-"
    func verify(_ password: String, against stored: String) -> Bool { false }
    func hash(_ password: String) throws -> String { throw CancellationError() }
}
