// Each scorer against replies whose verdict follows from the scorer's definition.
import Evaluation
import Testing

@Suite struct ScoringTests {
    @Test func passFailScorers() {
        #expect(Scoring.score(" O positive\n", .exact("O positive")) == 1)
        #expect(Scoring.score("o positive", .exact("O positive")) == 0)
        #expect(Scoring.score("  O   Positive. ", .normalized("o positive")) == 1)
        #expect(Scoring.score("O negative", .normalized("o positive")) == 0)
        #expect(Scoring.score("Ward B, bed 4", .containsAll(["ward b", "BED 4"])) == 1)
        #expect(Scoring.score("Ward B", .containsAll(["ward b", "bed 4"])) == 0)
        #expect(Scoring.score("it is urgent", .containsAny(["routine", "urgent"])) == 1)
        #expect(Scoring.score("it is fine", .containsAny(["routine", "urgent"])) == 0)
        #expect(Scoring.score("ref AB-1234", .regex(#"[A-Z]{2}-\d{4}"#)) == 1)
        #expect(Scoring.score("ref ab-12", .regex(#"[A-Z]{2}-\d{4}"#)) == 0)
    }

    @Test func numbersTakeTheLastOneWithThousandsSeparators() {
        #expect(Scoring.numbers(in: "from 1,200.50 to -3 and 7") == [1200.5, -3, 7])
        #expect(Scoring.score("2,400 × 1.5% = 36.00 EUR", .number(value: 36, tolerance: 0.005)) == 1)
        #expect(Scoring.score("about 36.1", .number(value: 36, tolerance: 0.05)) == 0)
        #expect(Scoring.score("no number", .number(value: 1, tolerance: 1)) == 0)
    }

    @Test func choiceLetters() {
        #expect(Scoring.choiceLetter("B) because") == "B")
        #expect(Scoring.choiceLetter("(C) it is") == "C")
        #expect(Scoring.choiceLetter("I think the answer is D.") == "D")
        #expect(Scoring.choiceLetter("A patient with (B)") == "B")
        #expect(Scoring.choiceLetter("none") == nil)
        #expect(Scoring.score("B.", .choice("B")) == 1)
    }

    @Test func jsonFieldsScoreTheFractionThatMatch() {
        let scorer = Scorer.jsonFields(["name": .string("Ada Byron"), "age": .number(36), "ward.bed": .number(4)])
        #expect(Scoring.score(#"Here: {"name": "ada byron", "age": "36", "ward": {"bed": 4}}"#, scorer) == 1)
        #expect(Scoring.score(#"{"name": "Ada", "age": 36, "ward": {"bed": 5}} trailing {"#, scorer)! == 1.0 / 3)
        #expect(Scoring.score("no json {here", scorer) == 0)
    }

    @Test func theRubricNeedsAJudgeWhoseDigitMapsOntoZeroToOne() {
        #expect(Scoring.score("x", .rubric(rubric: "r", reference: "y")) == nil)
        #expect(Scoring.judgeScore("5") == 1)
        #expect(Scoring.judgeScore("Rating: 3/5") == 0.5)
        #expect(Scoring.judgeScore("1") == 0)
        #expect(Scoring.judgeScore("excellent") == nil)
    }
}
