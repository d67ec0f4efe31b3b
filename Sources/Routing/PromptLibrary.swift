// System prompts as versioned files: `prompts/<name>.v<N>.txt`. A prompt is never edited in place;
// a change is a new version, the configuration picks the version per route, and the version used is
// recorded on every call, so a change in answers can be traced to a change in prompt. Every prompt
// the configuration names is read at start-up, so a missing file stops the server, not a chat.
public import EnclaveConfiguration
internal import Foundation

/// A loaded system prompt and the version to record.
public struct SystemPrompt: Sendable, Equatable {
    public var reference: PromptReference
    /// The prompt text: never logged or audited.
    public var text: String

    public init(reference: PromptReference, text: String) {
        self.reference = reference
        self.text = text
    }

    /// `assistant.v1`, as recorded.
    public var version: String { reference.description }
}

/// The prompts a configuration uses, loaded once.
public struct PromptLibrary: Sendable {
    public let directory: String
    public let selection: PromptSelection
    private let loaded: [PromptReference: SystemPrompt]

    /// Reads every prompt `selection` names from `directory`.
    public init(directory: String, selection: PromptSelection) throws(ConfigurationError) {
        self.directory = directory
        self.selection = selection
        var loaded: [PromptReference: SystemPrompt] = [:]
        for reference in Set([selection.defaultPrompt] + selection.byProvider.values) {
            let path = Self.path(of: reference, in: directory)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(file: path, message: "prompt \(reference) not found")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigurationError(file: path, message: "prompt \(reference) is not UTF-8 text")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else {
                throw ConfigurationError(file: path, message: "prompt \(reference) is empty")
            }
            loaded[reference] = SystemPrompt(reference: reference, text: trimmed)
        }
        self.loaded = loaded
    }

    /// A library over prompts already in memory (embedding, tests); `selection` must name only these.
    public init(prompts: [SystemPrompt], selection: PromptSelection) {
        directory = ""
        self.selection = selection
        loaded = Dictionary(prompts.map { ($0.reference, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The prompt for a route (a provider name).
    public func prompt(for provider: String) -> SystemPrompt {
        loaded[selection.prompt(for: provider)]!
    }

    /// The file of a prompt version.
    public static func path(of reference: PromptReference, in directory: String) -> String {
        "\(directory)/\(reference.name).v\(reference.version).txt"
    }

    /// Every `name.vN.txt` in `directory`, sorted by name then version.
    public static func available(in directory: String) -> [PromptReference] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in
            guard name.hasSuffix(".txt") else { return nil }
            return PromptReference(String(name.dropLast(4)))
        }.sorted { ($0.name, $0.version) < ($1.name, $1.version) }
    }
}
