// `enclave eval run` end to end over real parts: three scripted providers on loopback answer 40 items in
// proportions chosen here (right, wrong, slow, failing), so every score, interval, latency bound, cost and
// crossover verdict below is computed from those proportions and textbook formulas (values in comments),
// not from the code under test.
import Audit
import ChatCore
import EnclaveTestSupport
import Evaluation
import Foundation
import Policy
import Routing
import Testing

/// The item id in a request body (`Q ext-07`), or nil for other requests.
func itemID(_ body: String) -> (kind: String, index: Int)? {
    guard let range = body.range(of: #"Q (ext|ari)-(\d\d)"#, options: .regularExpression) else { return nil }
    let text = body[range].dropFirst(2)
    return (String(text.prefix(3)), Int(text.suffix(2))!)
}

/// 20 extraction items (normalised answer `O positive`) and 20 arithmetic ones (`7 + 100` style sums).
func crossoverSuiteText() -> String {
    var lines = ["# two categories of 20 items"]
    for index in 0..<20 {
        let id = String(format: "%02d", index)
        lines.append(
            #"{"id": "ext-\#(id)", "category": "extraction", "input": "Q ext-\#(id): the blood type in the note?", "scorer": "normalized", "expected": "O positive"}"#
        )
    }
    for index in 0..<20 {
        let id = String(format: "%02d", index)
        lines.append(
            #"{"id": "ari-\#(id)", "category": "arithmetic", "input": "Q ari-\#(id): what is \#(index) + 100?", "scorer": "number", "expected": \#(index + 100)}"#
        )
    }
    return lines.joined(separator: "\n") + "\n"
}

@Suite struct EvalRunnerTests {
    @Test func scoresIntervalsLatencyCostAndCrossoverFollowTheScriptedProportions() async throws {
        // big (external, 10/30 per million): always right.
        let big = try await ScriptedProvider.start("big", .external, input: 10, output: 30) { body in
            guard let id = itemID(body) else { return nil }
            let (kind, index) = (id.kind, id.index)
            return answer(kind == "ext" ? "O positive." : "The sum is \(index + 100)")
        }
        // mid (vpc, free): extraction wrong on ext-00 only (19/20); arithmetic right on ari-00...11 (12/20).
        let mid = try await ScriptedProvider.start("mid", .vpc) { body in
            guard let id = itemID(body) else { return nil }
            let (kind, index) = (id.kind, id.index)
            if kind == "ext" { return answer(index == 0 ? "A negative" : "o positive") }
            return answer(index < 12 ? "\(index + 100)" : "\(index + 101)")
        }
        // slow (vpc, free): extraction fails with HTTP 500 on ext-00...03 (4/20 failures); arithmetic always
        // right, but ari-00...09 only after 300 ms.
        let slow = try await ScriptedProvider.start("slow", .vpc) { body in
            guard let id = itemID(body) else { return nil }
            let (kind, index) = (id.kind, id.index)
            if kind == "ext" { return index < 4 ? .fail : answer("O positive") }
            return index < 10 ? .delayed(milliseconds: 300, ["\(index + 100)"]) : answer("\(index + 100)")
        }
        let fixture = try await EvalFixture([big, mid, slow])
        let suiteFile = fixture.directory + "/suite.jsonl"
        try crossoverSuiteText().write(toFile: suiteFile, atomically: true, encoding: .utf8)
        let suite = try GoldSuiteLoader.load(path: suiteFile)
        #expect(suite.items.count == 40)

        let run = await fixture.runner(EvalOptions(providers: ["big", "mid", "slow"], concurrency: 4)).run(suite)
        await fixture.close()
        #expect(run.results.count == 120)
        func summary(_ provider: String, _ category: String) throws -> CategorySummary {
            try #require(run.summaries.first { $0.provider == provider && $0.category == category })
        }

        // big: 40/40; each call costs 11 prompt tokens × 10 + 1 completion token × 30 = 140 millionths.
        let bigAll = try summary("big", "*")
        #expect(bigAll.passes == 40 && bigAll.failures == 0)
        #expect(bigAll.costMicros == 40 * 140)
        #expect(bigAll.tokensIn == 40 * 11 && bigAll.tokensOut == 40)

        // mid extraction 19/20: Wilson 95% (0.763869, 0.991119); arithmetic 12/20: (0.386582, 0.781193).
        let midExtraction = try summary("mid", "extraction")
        #expect(midExtraction.passes == 19 && midExtraction.method == "wilson")
        #expect(abs(midExtraction.interval!.low - 0.763869) < 1e-5)
        #expect(abs(midExtraction.interval!.high - 0.991119) < 1e-5)
        let midArithmetic = try summary("mid", "arithmetic")
        #expect(midArithmetic.passes == 12)
        #expect(abs(midArithmetic.interval!.low - 0.386582) < 1e-5)
        #expect(abs(midArithmetic.interval!.high - 0.781193) < 1e-5)
        #expect(midArithmetic.costMicros == 0)

        // slow extraction: 4 failures scored 0, 16/20: Wilson (0.583983, 0.919342).
        let slowExtraction = try summary("slow", "extraction")
        #expect(slowExtraction.failures == 4 && slowExtraction.passes == 16)
        #expect(abs(slowExtraction.interval!.low - 0.583983) < 1e-5)
        let failed = run.results.filter { $0.provider == "slow" && $0.outcome == .failed }
        #expect(Set(failed.map(\.item)) == ["ext-00", "ext-01", "ext-02", "ext-03"])
        // slow arithmetic: half the items took ≥ 300 ms, so p95 ≥ 300 and the type-7 median, the mean of
        // the 10th and 11th order statistics (one fast, one slow), ≥ 150.
        let slowArithmetic = try summary("slow", "arithmetic")
        #expect(slowArithmetic.passes == 20)
        #expect(try #require(slowArithmetic.totalP95) >= 300)
        #expect(try #require(slowArithmetic.totalP50) >= 150)
        #expect(try #require(slowArithmetic.ttftP95) >= 300)

        // Crossover, margin 0.15 (paired Wald interval of the difference to the best):
        //   extraction: mid b=0 c=1 n=20 → [-0.145517, 0.045517], non-inferior; slow b=0 c=4 → no.
        //     Route: mid (vpc is more sovereign than big's external).
        //   arithmetic: slow ties big (interval [0, 0]); mid b=0 c=8 → [-0.614703, -0.185297], McNemar
        //     p = 2/2^8 = 0.0078125. Route: slow (vpc, free).
        //   all: slow b=0 c=4 n=40 → low -0.192966 < -0.15, mid worse: route big.
        let crossover = CrossoverReport(run: run, margin: 0.15)
        let extraction = try #require(crossover.categories.first { $0.category == "extraction" })
        #expect(extraction.best == "big" && extraction.recommended == "mid")
        let midEntry = try #require(extraction.entries.first { $0.provider == "mid" })
        #expect(abs(midEntry.interval!.low - -0.145517) < 1e-5 && midEntry.nonInferior)
        #expect(extraction.entries.first { $0.provider == "slow" }?.nonInferior == false)
        let arithmetic = try #require(crossover.categories.first { $0.category == "arithmetic" })
        #expect(arithmetic.recommended == "slow")
        let midArithmeticEntry = try #require(arithmetic.entries.first { $0.provider == "mid" })
        #expect(abs(midArithmeticEntry.interval!.high - -0.185297) < 1e-5)
        #expect(abs(midArithmeticEntry.mcnemarP! - 0.0078125) < 1e-12)
        let all = try #require(crossover.categories.first { $0.category == "*" })
        #expect(all.recommended == "big")
        #expect(abs(all.entries.first { $0.provider == "slow" }!.interval!.low - -0.192966) < 1e-5)
    }

    @Test func aTaggedItemNeverReachesAProviderThePolicyDeniesAndIsReportedSkipped() async throws {
        let external = try await ScriptedProvider.start("ext", .external) { _ in answer("fine") }
        let vpc = try await ScriptedProvider.start("vpc", .vpc) { body in
            body.contains("You grade an answer") ? answer("4") : answer("fine")
        }
        let fixture = try await EvalFixture([external, vpc])
        let suite = try GoldSuite(
            name: "tags",
            items: GoldSuiteLoader.parse(
                """
                {"id": "t-phi", "category": "c", "tags": ["phi"], "input": "Q t-phi summarise", "scorer": "contains_any", "expected": ["fine"]}
                {"id": "t-email", "category": "c", "input": "Q t-email write to jane.doe@example.com", "scorer": "contains_any", "expected": ["fine"]}
                {"id": "t-history", "category": "c", "conversation": [{"role": "user", "content": "Q t-history patient MRN 0012345"}, {"role": "assistant", "content": "noted"}, {"role": "user", "content": "Q t-history-2 and now?"}], "scorer": "contains_any", "expected": ["fine"]}
                {"id": "t-plain", "category": "c", "input": "Q t-plain hello", "scorer": "rubric", "rubric": "polite", "expected": "fine"}
                """, file: "tags.jsonl"))
        let run = await fixture.runner(EvalOptions(providers: ["ext", "vpc"], repetitions: 2, judge: "vpc")).run(suite)
        let records = try await fixture.records()
        await fixture.close()

        func outcomes(_ provider: String, _ item: String) -> Set<ItemOutcome> {
            Set(run.results.filter { $0.provider == provider && $0.item == item }.map(\.outcome))
        }
        // phi (declared, or detected in an earlier turn through the MRN pattern): on-prem only.
        // An e-mail address is pii: inside the network (vpc) but not external.
        #expect(outcomes("ext", "t-phi") == [.skippedByPolicy])
        #expect(outcomes("vpc", "t-phi") == [.skippedByPolicy])
        #expect(outcomes("ext", "t-history") == [.skippedByPolicy])
        #expect(outcomes("vpc", "t-history") == [.skippedByPolicy])
        #expect(outcomes("ext", "t-email") == [.skippedByPolicy])
        #expect(outcomes("vpc", "t-email") == [.scored])
        // The rubric item: the judge (vpc) rates 4 of 5, which maps to 0.75, on both repetitions.
        #expect(run.results.filter { $0.item == "t-plain" }.map(\.score) == [0.75, 0.75, 0.75, 0.75])

        // Nothing of a denied item reached the provider that denies it.
        let externalBodies = external.recorder.completionRequests.map(\.body)
        #expect(
            !externalBodies.contains { $0.contains("t-phi") || $0.contains("t-history") || $0.contains("jane.doe") })
        #expect(externalBodies.contains { $0.contains("t-plain") })
        #expect(!vpc.recorder.completionRequests.contains { $0.body.contains("t-phi") || $0.body.contains("MRN") })

        // Each refusal is in the audit log as a denied decision of the eval user: 2 repetitions × (ext: 3 items,
        // vpc: 2 items) = 10.
        let denied = records.filter {
            $0.event.action == "model.decision" && $0.event.outcome == "denied" && $0.event.actor == "eval"
        }
        #expect(denied.count == 10)
        let summary = try #require(run.summaries.first { $0.provider == "ext" && $0.category == "c" })
        #expect(summary.skippedByPolicy == 6 && summary.attempts == 2)
    }

    @Test func itemsRunConcurrentlyUpToTheLimitPerProvider() async throws {
        let provider = CountingProvider(holdUntil: 3)
        let fixture = try await EvalFixture([])
        let gateway = ProviderGateway(
            providers: [provider], defaultProvider: "counting", systemPrompt: "Answer.", promptVersion: "assistant.v1")
        let runner = EvalRunner(
            store: fixture.store, policy: fixture.policy, gateway: gateway, audit: fixture.log,
            options: EvalOptions(providers: ["counting"], concurrency: 3))
        let suite = GoldSuite(
            name: "c",
            items: (0..<12).map { GoldItem(id: "i\($0)", category: "c", message: "hi", scorer: .exact("ok")) })
        let run = await runner.run(suite)
        await fixture.close()
        #expect(run.results.allSatisfy { $0.score == 1 })
        #expect(provider.maximumInFlight == 3)
    }
}
