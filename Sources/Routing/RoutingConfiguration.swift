// The routing part of the server configuration (`deploy/enclave.yaml`): the providers, the default
// route, the canary and the prompt version per route. Other sections of the same file (`server:`,
// `limits:` and the like) belong to other parts; this reader skips them by name and rejects any
// other unknown top-level key, so a typo never silently disables a setting.
//
//     providers:                       # one entry per provider; names are unique
//       - name: local
//         kind: local                  # local | openai
//         residency: on-prem           # on-prem | vpc | external
//         model_path: models/SmolLM2-135M-Instruct.Q4_1.gguf
//       - name: external-gpt
//         kind: openai
//         residency: external
//         region: eu-west-1
//         base_url: https://api.example.com/v1
//         model: gpt-4o-mini
//         api_key_env: ENCLAVE_EXTERNAL_KEY    # or api_key_file
//         context_length: 128000
//         timeouts: {connect_ms: 3000, read_ms: 30000, total_ms: 300000}
//         retries: 2
//         price: {input_per_million: 0.15, output_per_million: 0.60}
//     routing:
//       default: local
//       canary: {provider: vpc-llama, percent: 5, key_file: /etc/enclave/canary.key,
//                eligible: {tags: none, groups: [pilot]}}
//       prompts: {default: assistant.v1, providers: {external-gpt: assistant.v1}}
//       health: {cooldown_ms: 5000, max_cooldown_ms: 120000, failures: 3}   # circuit breakers
public import EnclaveConfiguration
internal import Foundation
public import Policy
internal import Yams

/// How a provider is reached.
public enum ProviderKind: String, Sendable, CaseIterable {
    /// The in-process engine over a GGUF file.
    case local
    /// An OpenAI-compatible HTTP server.
    case openai
}

/// One `providers:` entry, validated.
public struct ProviderConfiguration: Sendable {
    public var name: String
    public var kind: ProviderKind
    public var residency: Residency
    public var region: String?
    /// For `openai`: the model name sent to the server. For `local`: the model file path.
    public var model: String
    public var pricing: Pricing
    /// The context window; for `local`, nil means the engine's own.
    public var contextLength: Int?
    /// For `openai` only.
    public var http: OpenAIProviderSettings?
    /// Where the entry starts, for later errors (`file:line:column`).
    public var location: String
}

/// A system-prompt file chosen by name and version: `assistant.v1` is `prompts/assistant.v1.txt`.
public struct PromptReference: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var version: Int

    public init(name: String, version: Int) {
        self.name = name
        self.version = version
    }

    /// Parses `name.vN`; nil when the text has another shape.
    public init?(_ text: String) {
        guard let dot = text.range(of: ".v", options: .backwards),
            let version = Int(text[dot.upperBound...]), version > 0
        else { return nil }
        let name = String(text[..<dot.lowerBound])
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            return nil
        }
        self.init(name: name, version: version)
    }

    /// `assistant.v1`, as recorded on every call.
    public var description: String { "\(name).v\(version)" }
}

/// Which prompt each route uses: per provider, else the default.
public struct PromptSelection: Sendable, Equatable {
    public var defaultPrompt: PromptReference
    public var byProvider: [String: PromptReference]

    public init(defaultPrompt: PromptReference, byProvider: [String: PromptReference] = [:]) {
        self.defaultPrompt = defaultPrompt
        self.byProvider = byProvider
    }

    public func prompt(for provider: String) -> PromptReference { byProvider[provider] ?? defaultPrompt }
}

/// The validated routing configuration.
public struct RoutingConfiguration: Sendable {
    public var providers: [ProviderConfiguration]
    public var defaultProvider: String
    public var canary: CanaryConfiguration?
    public var prompts: PromptSelection
    /// The providers' circuit breakers (ProviderHealth's rule).
    public var health = ProviderHealth.Settings()

    /// Top-level sections owned by other parts of the server, skipped here.
    public static let otherSections: Set<String> = [
        "server", "limits", "engine", "storage", "audit", "policy", "keys", "logging", "health",
    ]

    /// Loads and validates `path`.
    public static func load(path: String) throws(ConfigurationError) -> RoutingConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError(file: path, line: 1, column: 1, message: "cannot read the file as UTF-8 text")
        }
        let directory = (path as NSString).deletingLastPathComponent
        return try parse(text, file: path, baseDirectory: directory.isEmpty ? nil : directory)
    }

    /// Validates configuration text; `file` names it in errors, relative paths resolve against `baseDirectory`.
    public static func parse(_ text: String, file: String, baseDirectory: String? = nil) throws(ConfigurationError)
        -> RoutingConfiguration
    {
        let reader = ConfigurationReader(file: file)
        let root = try reader.mapping(
            try reader.document(text), "the configuration", allowed: otherSections.union(["providers", "routing"]),
            required: ["providers", "routing"])
        var providers: [ProviderConfiguration] = []
        var seen: [String: String] = [:]
        for item in try reader.sequence(root["providers"]!, "providers") {
            let provider = try parseProvider(item, reader: reader, baseDirectory: baseDirectory)
            if let first = seen[provider.name] {
                throw reader.error(
                    item, "duplicate provider name '\(provider.name)'", hint: "first declared at \(first)")
            }
            seen[provider.name] = provider.location
            providers.append(provider)
        }
        guard !providers.isEmpty else {
            throw reader.error(root["providers"], "providers must list at least one provider")
        }
        let routing = try reader.mapping(
            root["routing"]!, "routing", allowed: ["default", "canary", "prompts", "health"],
            required: ["default", "prompts"])
        let known = Set(providers.map(\.name))
        let defaultProvider = try reader.string(routing["default"]!, "routing.default")
        guard known.contains(defaultProvider) else {
            throw reader.error(
                routing["default"], "routing.default names unknown provider '\(defaultProvider)'",
                hint: "declared: \(known.sorted().joined(separator: ", "))")
        }
        let canary = try routing["canary"].map { node throws(ConfigurationError) in
            try CanaryConfiguration.parse(
                node, reader: reader, providers: known, defaultProvider: defaultProvider, baseDirectory: baseDirectory)
        }
        let prompts = try parsePrompts(routing["prompts"]!, reader: reader, providers: known)
        var configuration = RoutingConfiguration(
            providers: providers, defaultProvider: defaultProvider, canary: canary, prompts: prompts)
        if let node = routing["health"] {
            configuration.health = try parseHealth(node, reader: reader)
        }
        return configuration
    }

    static func parseHealth(_ node: Node, reader: ConfigurationReader) throws(ConfigurationError)
        -> ProviderHealth.Settings
    {
        let map = try reader.mapping(
            node, "routing.health", allowed: ["cooldown_ms", "max_cooldown_ms", "failures"], required: [])
        var settings = ProviderHealth.Settings()
        if let value = map["cooldown_ms"] {
            settings.base = .milliseconds(try reader.int(value, "cooldown_ms", range: 1...3_600_000))
        }
        if let value = map["max_cooldown_ms"] {
            settings.maximum = .milliseconds(try reader.int(value, "max_cooldown_ms", range: 1...86_400_000))
        }
        if let value = map["failures"] {
            settings.threshold = try reader.int(value, "failures", range: 1...1000)
        }
        guard settings.maximum >= settings.base else {
            throw reader.error(node, "routing.health.max_cooldown_ms is shorter than cooldown_ms")
        }
        return settings
    }

    static func parsePrompts(_ node: Node, reader: ConfigurationReader, providers: Set<String>)
        throws(ConfigurationError)
        -> PromptSelection
    {
        let map = try reader.mapping(node, "routing.prompts", allowed: ["default", "providers"], required: ["default"])
        func reference(_ node: Node) throws(ConfigurationError) -> PromptReference {
            let text = try reader.string(node, "a prompt")
            guard let reference = PromptReference(text) else {
                throw reader.error(node, "prompt '\(text)' is not of the form name.vN", hint: "e.g. assistant.v1")
            }
            return reference
        }
        var selection = PromptSelection(defaultPrompt: try reference(map["default"]!))
        if let perProvider = map["providers"] {
            let entries = try reader.mapping(perProvider, "routing.prompts.providers", allowed: providers)
            for (name, value) in entries.values { selection.byProvider[name] = try reference(value) }
        }
        return selection
    }

    /// A path as written in the file: relative ones resolve against the file's directory, so the server
    /// reads the same files whatever its working directory (a service manager starts it in `/`).
    public static func resolve(_ path: String, against baseDirectory: String?) -> String {
        guard !path.hasPrefix("/"), let baseDirectory, !baseDirectory.isEmpty else { return path }
        // Lexically, so `deploy/../data` reads as `data` (symbolic links are not followed).
        var parts: [Substring] = []
        for part in (baseDirectory + "/" + path).split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return baseDirectory.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    static func parseProvider(_ node: Node, reader: ConfigurationReader, baseDirectory: String?)
        throws(ConfigurationError) -> ProviderConfiguration
    {
        let common: Set<String> = ["name", "kind", "residency", "region", "price", "context_length"]
        let head = try reader.mapping(
            node, "a provider", allowed: common.union(localKeys).union(openAIKeys),
            required: ["name", "kind", "residency"])
        let name = try reader.string(head["name"]!, "provider name")
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") })
        else {
            throw reader.error(head["name"], "provider name '\(name)' may hold only letters, digits, '-', '_' and '.'")
        }
        let what = "provider '\(name)'"
        let kindText = try reader.string(head["kind"]!, "kind")
        guard let kind = ProviderKind(rawValue: kindText) else {
            throw reader.error(head["kind"], "unknown kind '\(kindText)' for \(what)", hint: "local or openai")
        }
        let entry = try reader.mapping(
            node, what, allowed: common.union(kind == .local ? localKeys : openAIKeys),
            required: kind == .local ? ["model_path"] : ["base_url", "model"])
        let residencyText = try reader.string(entry["residency"]!, "residency")
        guard let residency = Residency(rawValue: residencyText) else {
            throw reader.error(
                entry["residency"], "unknown residency '\(residencyText)' for \(what)",
                hint: "on-prem, vpc or external")
        }
        if kind == .local, residency != .onPrem {
            throw reader.error(entry["residency"], "a local provider runs in this process: its residency is on-prem")
        }
        let region = try entry["region"].map { node throws(ConfigurationError) in try reader.string(node, "region") }
        var pricing = Pricing()
        if let price = entry["price"] {
            let map = try reader.mapping(
                price, "price of \(what)", allowed: ["input_per_million", "output_per_million"])
            pricing.inputPerMillion =
                try map["input_per_million"].map { node throws(ConfigurationError) in
                    try reader.double(node, "input_per_million", range: 0...1_000_000)
                } ?? 0
            pricing.outputPerMillion =
                try map["output_per_million"].map { node throws(ConfigurationError) in
                    try reader.double(node, "output_per_million", range: 0...1_000_000)
                } ?? 0
        }
        let contextLength = try entry["context_length"].map { node throws(ConfigurationError) in
            try reader.int(node, "context_length", range: 256...10_000_000)
        }
        let mark = node.mark
        let location = "\(reader.file):\(mark?.line ?? 1):\(mark?.column ?? 1)"
        switch kind {
        case .local:
            return ProviderConfiguration(
                name: name, kind: kind, residency: residency, region: region,
                model: resolve(try reader.string(entry["model_path"]!, "model_path"), against: baseDirectory),
                pricing: pricing,
                contextLength: contextLength, http: nil, location: location)
        case .openai:
            return ProviderConfiguration(
                name: name, kind: kind, residency: residency, region: region,
                model: try reader.string(entry["model"]!, "model"), pricing: pricing,
                contextLength: contextLength,
                http: try parseHTTP(entry, what: what, reader: reader, baseDirectory: baseDirectory), location: location
            )
        }
    }

    static let localKeys: Set<String> = ["model_path"]
    static let openAIKeys: Set<String> = ["base_url", "model", "api_key_file", "api_key_env", "timeouts", "retries"]

    static func parseHTTP(
        _ entry: CheckedMapping, what: String, reader: ConfigurationReader, baseDirectory: String?
    ) throws(ConfigurationError) -> OpenAIProviderSettings {
        let baseNode = entry["base_url"]!
        let baseURL = try reader.string(baseNode, "base_url")
        guard let url = URL(string: baseURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw reader.error(
                baseNode, "base_url of \(what) must be an http(s) URL", hint: "e.g. http://10.0.0.5:8000/v1")
        }
        var settings = OpenAIProviderSettings(baseURL: baseURL)
        switch (entry["api_key_file"], entry["api_key_env"]) {
        case (let file?, nil):
            settings.apiKey = .file(resolve(try reader.string(file, "api_key_file"), against: baseDirectory))
        case (nil, let env?): settings.apiKey = .environment(try reader.string(env, "api_key_env"))
        case (nil, nil): settings.apiKey = .none
        case (_, let env?): throw reader.error(env, "give either api_key_file or api_key_env for \(what), not both")
        }
        if let timeouts = entry["timeouts"] {
            let map = try reader.mapping(
                timeouts, "timeouts of \(what)", allowed: ["connect_ms", "read_ms", "total_ms"])
            if let node = map["connect_ms"] {
                settings.connectTimeout = .milliseconds(try reader.int(node, "connect_ms", range: 1...600_000))
            }
            if let node = map["read_ms"] {
                settings.readTimeout = .milliseconds(try reader.int(node, "read_ms", range: 1...3_600_000))
            }
            if let node = map["total_ms"] {
                settings.totalTimeout = .milliseconds(try reader.int(node, "total_ms", range: 1...86_400_000))
            }
        }
        if let node = entry["retries"] { settings.retries = try reader.int(node, "retries", range: 0...10) }
        return settings
    }
}
