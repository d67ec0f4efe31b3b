// YAML gold files: the same items as JSON Lines (the shipped YAML sample against its JSONL twin, which
// PyYAML also reads as equal), a suite directory mixing both forms, and malformed YAML or a bad item reported
// at the right file:line.
import Evaluation
import Foundation
import Testing

@Suite struct GoldSuiteYAMLTests {
    /// The items without where they were read (the two forms live in different files and lines).
    func unplaced(_ items: [GoldItem]) -> [GoldItem] {
        items.map { item in
            var copy = item
            copy.location = ""
            return copy
        }
    }

    @Test func theYAMLAndJSONLFormsOfOneSuiteLoadEqual() throws {
        let yaml = try GoldSuiteLoader.load(path: repositoryRoot + "/eval/hospital/extraction.yaml")
        let jsonl = try GoldSuiteLoader.load(
            path: repositoryRoot + "/Tests/EvaluationTests/Fixtures/hospital-extraction.jsonl")
        #expect(yaml.items.count == 4)
        #expect(unplaced(yaml.items) == unplaced(jsonl.items))
        #expect(yaml.name == "extraction")
        // Each YAML item is placed at its `- id:` line.
        #expect(yaml.items.map(\.location).first == repositoryRoot + "/eval/hospital/extraction.yaml:6")
        let fields: [String: JSONValue] = [
            "age": .number(71), "diagnosis": .string("community-acquired pneumonia"), "dose_mg": .number(500),
        ]
        #expect(yaml.items[0].scorer == .jsonFields(fields))
    }

    @Test func aSuiteDirectoryReadsBothForms() throws {
        let suite = try GoldSuiteLoader.load(path: repositoryRoot + "/eval/hospital")
        #expect(suite.items.contains { $0.id == "h-extract-04" })
        #expect(suite.items.contains { $0.id == "h-dose-01" })
        #expect(Set(suite.items.map(\.category)) == ["arithmetic", "classification", "extraction", "policy"])
    }

    @Test func quotedScalarsStayTextAndPlainOnesTakeYAMLTypes() throws {
        let items = try GoldSuiteLoader.parseYAML(
            """
            - {id: a, category: c, input: x, scorer: exact, expected: "36"}
            - {id: b, category: c, input: x, scorer: number, expected: 36, tolerance: 0.5}
            - id: c
              category: c
              input: |
                two
                lines
              scorer: json_fields
              expected: {ok: true, none: null, code: '007'}
            """, file: "f.yaml")
        #expect(items.map(\.scorer)[0] == .exact("36"))
        #expect(items.map(\.scorer)[1] == .number(value: 36, tolerance: 0.5))
        #expect(items[2].message == "two\nlines\n")
        #expect(items[2].scorer == .jsonFields(["ok": .bool(true), "none": .null, "code": .string("007")]))
        #expect(items.map(\.location) == ["f.yaml:1", "f.yaml:2", "f.yaml:3"])
    }

    @Test(arguments: [
        // A syntax error: an unclosed flow mapping, reported where the parser gave up.
        ("- {id: a, category: c\n- id: b\n", 2, "not valid YAML"),
        // A bad item on line 4: the schema's own message, at the item's line.
        (
            "- {id: a, category: c, input: x, scorer: exact, expected: y}\n\n\n"
                + "- id: b\n  category: c\n  input: x\n  scorer: fuzzy\n  expected: y\n", 4, "unknown scorer 'fuzzy'"
        ),
        ("- id: a\n  id: b\n", 1, "duplicate key"),
        ("id: a\n", 1, "a list of items"),
        ("- just text\n", 1, "an item is a mapping"),
    ])
    func malformedYAMLIsAnErrorAtItsLine(text: String, line: Int, message: String) {
        let error = #expect(throws: GoldSuiteError.self) { try GoldSuiteLoader.parseYAML(text, file: "bad.yaml") }
        #expect(error?.line == line, "\(error.map(String.init(describing:)) ?? "")")
        #expect(error?.description.hasPrefix("bad.yaml:\(line): ") == true)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.code == "gold-invalid")
    }
}
