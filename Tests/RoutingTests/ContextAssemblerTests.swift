// Context fitting against a separately written reference: drop the oldest exchange one at a time
// (linear, no search) until the estimate fits. Random histories, seeded.
import EnclaveTestSupport
import Inference
import Testing

@testable import Routing

@Suite struct ContextAssemblerTests {
    /// The reference rule, written independently of the assembler's binary search.
    static func reference(system: String, history: [ChatTurn], message: ChatTurn, budget: Int) -> [ChatTurn]? {
        var kept = history
        while true {
            let turns = [ChatTurn(role: .system, content: system)] + kept + [message]
            if TokenEstimate.count(turns) <= budget { return turns }
            if kept.isEmpty { return nil }
            kept.removeFirst()
            while let first = kept.first, first.role != .user { kept.removeFirst() }
        }
    }

    @Test func matchesTheReferenceOnRandomHistories() throws {
        var random = SplitMix64(seed: 42)
        for _ in 0..<300 {
            var history: [ChatTurn] = []
            for index in 0..<Int(random.next() % 12) {
                let length = Int(random.next() % 200)
                history.append(
                    ChatTurn(role: index % 2 == 0 ? .user : .assistant, content: String(repeating: "x", count: length)))
            }
            let message = ChatTurn(role: .user, content: String(repeating: "m", count: Int(random.next() % 100)))
            let contextLength = 40 + Int(random.next() % 400)
            let expected = Self.reference(
                system: "sys prompt", history: history, message: message, budget: contextLength - 16)
            do {
                let assembled = try ContextAssembler.assemble(
                    system: "sys prompt", history: history, message: message, contextLength: contextLength,
                    replyTokens: 16,
                    count: TokenEstimate.count)
                #expect(assembled.turns == expected)
                #expect(assembled.tokens == TokenEstimate.count(assembled.turns))
                #expect(assembled.droppedTurns == history.count - (assembled.turns.count - 2))
            } catch {
                #expect(expected == nil)
                #expect(error.code == "bad-arguments")
            }
        }
    }

    @Test func keepsSystemAndNewestAndNeverAnAnswerWithoutItsQuestion() throws {
        let history = (0..<10).map {
            ChatTurn(role: $0 % 2 == 0 ? .user : .assistant, content: "turn \($0) " + String(repeating: "y", count: 30))
        }
        let message = ChatTurn(role: .user, content: "newest")
        let assembled = try ContextAssembler.assemble(
            system: "S", history: history, message: message, contextLength: 80, replyTokens: 10,
            count: TokenEstimate.count)
        #expect(assembled.turns.first == ChatTurn(role: .system, content: "S"))
        #expect(assembled.turns.last == message)
        #expect(assembled.turns[1].role == .user)
        #expect(assembled.droppedTurns > 0)
    }
}
