// Versioned prompts: the shipped prompt loads, the version is what the file name says, and a
// configuration naming a missing version fails at load.
import EnclaveConfiguration
import Foundation
import Testing

@testable import Routing

@Suite struct PromptLibraryTests {
    @Test func loadsTheShippedPromptAndItsVersion() throws {
        let library = try PromptLibrary(
            directory: repositoryRoot + "/prompts",
            selection: PromptSelection(defaultPrompt: PromptReference(name: "assistant", version: 1)))
        let prompt = library.prompt(for: "any-provider")
        #expect(prompt.version == "assistant.v1")
        #expect(prompt.text.hasPrefix("You are the assistant"))
        #expect(
            PromptLibrary.available(in: repositoryRoot + "/prompts").contains(
                PromptReference(name: "assistant", version: 1)))
    }

    @Test func aMissingVersionFailsAtLoad() {
        #expect(throws: ConfigurationError.self) {
            _ = try PromptLibrary(
                directory: repositoryRoot + "/prompts",
                selection: PromptSelection(
                    defaultPrompt: PromptReference(name: "assistant", version: 1),
                    byProvider: ["x": PromptReference(name: "assistant", version: 99)]))
        }
    }

    @Test func referencesParseOnlyTheirShape() {
        #expect(PromptReference("assistant.v12") == PromptReference(name: "assistant", version: 12))
        #expect(PromptReference("triage-nurse.v3")?.name == "triage-nurse")
        for bad in ["assistant", "assistant.v0", "assistant.vx", ".v1", "a/b.v1", "assistant.v-1"] {
            #expect(PromptReference(bad) == nil, "\(bad)")
        }
    }
}
