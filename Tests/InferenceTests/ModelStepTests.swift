// `TransformerModel.evaluateStep`, one decoding step for many sessions at once: every session's logits
// are bit for bit those of evaluating its token alone, for every weight type, with more sessions than
// the sgemm threshold (so the batch stays on integer products) and sessions at different positions; and
// a step agrees with the plain reference forward pass.
import Foundation
import GGUF
import Inference
import Testing

struct ModelStepTests {
    @Test(arguments: Kernels.supportedWeightTypes)
    func aBatchedStepEqualsEachSessionAlone(type: GGMLType) throws {
        let spec = TinyModelSpec.weights(type)
        let model = try ModelTests.load(TinyModel(spec))
        // 40 sessions (above the 32-token sgemm threshold), prompts of 1 to 5 tokens.
        var prompts: [[Int32]] = []
        for s in 0..<40 {
            var prompt: [Int32] = []
            for t in 0...(s % 5) { prompt.append(Int32((s * 7 + t * 13) % 80)) }
            prompts.append(prompt)
        }
        let batched = prompts.map { _ in model.makeCache(capacity: 16) }
        let alone = prompts.map { _ in model.makeCache(capacity: 16) }
        var next: [Int32] = []
        for (s, prompt) in prompts.enumerated() {
            let a = try model.evaluate(prompt, cache: batched[s])
            let b = try model.evaluate(prompt, cache: alone[s])
            #expect(a == b)
            next.append(Int32(a.indices.max { a[$0] < a[$1] }!))
        }
        for round in 0..<3 {
            let stepped = try model.evaluateStep(next, caches: batched)
            #expect(stepped.count == prompts.count)
            for s in prompts.indices {
                let single = try model.evaluate([next[s]], cache: alone[s])
                #expect(stepped[s] == single, "\(type) session \(s) round \(round)")
                #expect(batched[s].count == alone[s].count)
                next[s] = Int32(single.indices.max { single[$0] < single[$1] }!)
            }
        }
    }

    @Test func aStepMatchesTheReferenceForwardPass() throws {
        let tiny = TinyModel(TinyModelSpec())
        let model = try ModelTests.load(tiny)
        let sequences: [[Int32]] = [[1, 17, 42], [5, 79], [3, 3, 3, 9]]
        let caches = sequences.map { _ in model.makeCache(capacity: 16) }
        for (s, tokens) in sequences.enumerated() { _ = try model.evaluate(Array(tokens.dropLast()), cache: caches[s]) }
        let logits = try model.evaluateStep(sequences.map { $0.last! }, caches: caches)
        for (s, tokens) in sequences.enumerated() {
            let reference = tiny.referenceLogits(tokens).last!
            #expect(ModelTests.maxDifference(logits[s], reference) < ModelTests.tolerance(.q8_0), "sequence \(s)")
        }
    }

    @Test func aFullCacheIsRefusedBeforeAnyWork() throws {
        let model = try ModelTests.load(TinyModel(TinyModelSpec()))
        let roomy = model.makeCache(capacity: 8)
        let full = model.makeCache(capacity: 2)
        _ = try model.evaluate([1, 2], cache: full)
        _ = try model.evaluate([1], cache: roomy)
        #expect(throws: InferenceError.self) { try model.evaluateStep([4, 5], caches: [roomy, full]) }
        #expect(roomy.count == 1 && full.count == 2)
    }
}
