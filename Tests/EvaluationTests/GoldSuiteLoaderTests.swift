// Gold files are read strictly: every mistake is an error naming file:line, and a valid line gives the
// item the analyst wrote.
import Evaluation
import Foundation
import Testing

@Suite struct GoldSuiteLoaderTests {
    @Test func aValidFileGivesTheItemsAsWritten() throws {
        let items = try GoldSuiteLoader.parse(
            """
            # comment

            {"id": "a", "category": "math", "weight": 2, "tags": ["pci"], "input": "x", "scorer": "number", "expected": 36, "tolerance": 0.01}
            {"id": "b", "category": "facts", "conversation": [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}], "scorer": "json_fields", "expected": {"ward": "B", "age": 71}}
            {"id": "c", "category": "facts", "input": "y", "scorer": "choice", "expected": "c"}
            """, file: "f.jsonl")
        #expect(items.count == 3)
        #expect(
            items[0].weight == 2 && items[0].tags == ["pci"] && items[0].scorer == .number(value: 36, tolerance: 0.01))
        #expect(items[0].location == "f.jsonl:3")
        #expect(
            items[1].history == [GoldTurn(role: "user", content: "u1"), GoldTurn(role: "assistant", content: "a1")])
        #expect(items[1].message == "u2")
        #expect(items[1].scorer == .jsonFields(["ward": .string("B"), "age": .number(71)]))
        #expect(items[2].scorer == .choice("C"))
    }

    @Test(arguments: [
        (
            #"{"id": "a", "category": "c", "input": "x", "scorer": "exact", "expected": "y", "colour": 1}"#,
            "unknown key 'colour'"
        ),
        (#"{"id": "a", "category": "c", "input": "x", "scorer": "fuzzy", "expected": "y"}"#, "unknown scorer 'fuzzy'"),
        (
            #"{"id": "a", "category": "c", "input": "x", "scorer": "number", "expected": "36"}"#,
            "expected must be a number"
        ),
        (
            #"{"id": "a", "category": "c", "input": "x", "scorer": "regex", "expected": "(unclosed"}"#,
            "not a valid regular expression"
        ),
        (
            #"{"id": "a", "category": "c", "scorer": "exact", "expected": "y"}"#,
            "exactly one of 'input' or 'conversation'"
        ),
        (
            #"{"id": "a", "category": "c", "conversation": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}], "scorer": "exact", "expected": "y"}"#,
            "must end with a user turn"
        ),
        (
            #"{"id": "a", "category": "c", "input": "x", "scorer": "exact", "expected": "y", "tolerance": 1}"#,
            "only for the number scorer"
        ),
        (
            #"{"id": "a", "category": "c", "input": "x", "scorer": "exact", "expected": "y", "weight": -1}"#,
            "weight must be a positive number"
        ),
        (#"{"id": "a b", "category": "c", "input": "x", "scorer": "exact", "expected": "y"}"#, "id must be"),
        (#"{"id": "a", "category": "c", "input": "x", "scorer": "choice", "expected": "Z"}"#, "one letter A-H"),
        (#"{"id": "a", "category": "c", "input": "x", "scorer": "exact", "expected": "y""#, "not a JSON object"),
        (#"{"id": "a", "category": "c", "input": "x", "scorer": "rubric", "expected": "y"}"#, "missing 'rubric'"),
    ])
    func aMistakeIsAnErrorNamingFileAndLine(line: String, message: String) throws {
        let text =
            #"{"id": "ok", "category": "c", "input": "x", "scorer": "exact", "expected": "y"}"# + "\n\n" + line + "\n"
        let error = #expect(throws: GoldSuiteError.self) { try GoldSuiteLoader.parse(text, file: "gold.jsonl") }
        #expect(error?.description.hasPrefix("gold.jsonl:3: ") == true)
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
        #expect(error?.code == "gold-invalid")
    }

    @Test func duplicateIdsAcrossFilesOfASuiteAreRejected() throws {
        let directory = NSTemporaryDirectory() + "gold-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let line = #"{"id": "same", "category": "c", "input": "x", "scorer": "exact", "expected": "y"}"#
        try (line + "\n").write(toFile: directory + "/a.jsonl", atomically: true, encoding: .utf8)
        try ("\n" + line + "\n").write(toFile: directory + "/b.jsonl", atomically: true, encoding: .utf8)
        let error = #expect(throws: GoldSuiteError.self) { try GoldSuiteLoader.load(path: directory) }
        #expect(error?.description == "\(directory)/b.jsonl:2: duplicate id 'same' (first at \(directory)/a.jsonl:1)")
    }

    @Test func theShippedSampleSuitesLoad() throws {
        for name in ["hospital", "bank"] {
            let suite = try GoldSuiteLoader.load(path: repositoryRoot + "/eval/" + name)
            #expect(suite.items.count >= 10)
            #expect(suite.categories.count >= 3)
        }
    }
}
