// The providers of a running server, built from the routing configuration. Local providers need a
// loaded engine, which the caller supplies (loading a model is the server's business, not routing's).
internal import EnclaveConfiguration
internal import Policy

/// The registered providers, by name, in configuration order.
public final class ProviderRegistry: Sendable {
    public let providers: [any ChatProvider]
    public let router: Router
    public let prompts: PromptSelection
    private let byName: [String: any ChatProvider]

    /// A registry over ready-made providers (tests, embedding).
    public init(
        providers: [any ChatProvider], defaultProvider: String, canary: CanaryConfiguration? = nil,
        prompts: PromptSelection = PromptSelection(defaultPrompt: PromptReference(name: "assistant", version: 1))
    ) {
        self.providers = providers
        self.prompts = prompts
        byName = Dictionary(providers.map { ($0.info.name, $0) }, uniquingKeysWith: { first, _ in first })
        router = Router(providers: providers.map(\.info), defaultProvider: defaultProvider, canary: canary)
    }

    /// Builds every configured provider: HTTP providers here, local ones by `local` (which loads the
    /// engine for the entry's `model` path and wraps it in a `LocalProvider`).
    public convenience init(
        configuration: RoutingConfiguration, local: (ProviderConfiguration) throws -> any ChatProvider
    ) async throws {
        var built: [any ChatProvider] = []
        do {
            for entry in configuration.providers {
                switch entry.kind {
                case .local:
                    built.append(try local(entry))
                case .openai:
                    let info = ProviderInfo(
                        name: entry.name, residency: entry.residency, region: entry.region, model: entry.model,
                        pricing: entry.pricing, contextLength: entry.contextLength ?? 4096)
                    do {
                        built.append(try OpenAIProvider(info: info, settings: entry.http!))
                    } catch {
                        throw ConfigurationError.at(entry.location, "provider '\(entry.name)': \(error)")
                    }
                }
            }
        } catch {
            for provider in built { await Self.shutdown(provider) }
            throw error
        }
        self.init(
            providers: built, defaultProvider: configuration.defaultProvider, canary: configuration.canary,
            prompts: configuration.prompts)
    }

    public func provider(named name: String) -> (any ChatProvider)? { byName[name] }

    /// Providers whose health check fails now.
    public func unhealthy() async -> Set<String> {
        await withTaskGroup(of: (String, Bool).self) { group in
            for provider in providers { group.addTask { (provider.info.name, await provider.health()) } }
            var down: Set<String> = []
            for await (name, healthy) in group where !healthy { down.insert(name) }
            return down
        }
    }

    /// Closes HTTP clients; call once before the registry is released.
    public func shutdown() async {
        for provider in providers { await Self.shutdown(provider) }
    }

    private static func shutdown(_ provider: any ChatProvider) async {
        if let http = provider as? OpenAIProvider { await http.shutdown() }
    }
}

extension ConfigurationError {
    /// An error at a recorded `file:line:column` location.
    static func at(_ location: String, _ message: String) -> ConfigurationError {
        let parts = location.split(separator: ":")
        guard parts.count >= 3, let line = Int(parts[parts.count - 2]), let column = Int(parts[parts.count - 1]) else {
            return ConfigurationError(file: location, line: 1, column: 1, message: message)
        }
        return ConfigurationError(
            file: parts.dropLast(2).joined(separator: ":"), line: line, column: column, message: message)
    }
}
