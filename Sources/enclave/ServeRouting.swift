// The providers behind `enclave serve`, from the resolved settings: the `providers:` and `routing:`
// sections of the configuration file, each `local` entry served by the engine of its own model file
// (LocalModel.swift); `--model` (or ENCLAVE_MODEL) replaces the default local provider's file only.
// Remote providers are only HTTP clients here: one that cannot be reached fails its calls
// (`provider-unavailable`, or a fallback inside the allowed set) and never stops start-up. With no
// configuration file, the pinned local model alone is served under the name `local`.
import Audit
import ChatCore
import Foundation
import Inference
import Policy
import Routing
import ServiceLifecycle

enum ServeRouting {
    /// The routing configuration in force, with the model override applied to the default local provider.
    static func configuration(_ settings: Settings) -> RoutingConfiguration? {
        guard var configuration = settings.routing else { return nil }
        if let override = settings.modelOverride?.value,
            let index = configuration.providers.firstIndex(where: {
                $0.kind == .local && $0.name == configuration.defaultProvider
            }) ?? configuration.providers.firstIndex(where: { $0.kind == .local })
        {
            configuration.providers[index].model = override
        }
        return configuration
    }

    /// The gateway over the configured providers, and the registry to shut down when serving ends.
    static func gateway(_ settings: Settings) async throws -> (ProviderGateway, ProviderRegistry?) {
        guard let configuration = configuration(settings) else {
            let path = settings.modelOverride?.value ?? settings.defaultModelPath
            let engine = try LocalModel.engine(
                modelPath: path, settings: settings.engine, kvCacheBytes: settings.engine.kvCacheBytes)
            var provider = LocalProvider(engine: engine)
            provider.sampling = settings.engine.sampling
            let gateway = ProviderGateway(
                providers: [provider], defaultProvider: provider.info.name,
                systemPrompt: LocalModel.systemPrompt, promptVersion: LocalModel.promptVersion)
            return (gateway, nil)
        }
        let prompts: PromptLibrary
        do {
            prompts = try PromptLibrary(directory: settings.prompts.value, selection: configuration.prompts)
        } catch {
            throw CLIError("\(error)")
        }
        let registry = try await LocalModel.registry(configuration, settings: settings.engine)
        let gateway = ProviderGateway(
            registry: registry, prompts: prompts, health: ProviderHealth(settings: configuration.health))
        return (gateway, registry)
    }
}

extension ServeRouting {
    /// What every client is told in the banner and `/help`: which provider and model answer by default,
    /// and, for the pinned demonstration model, that it is not fit for real answers.
    static func notices(_ settings: Settings, gateway: ProviderGateway) -> [String] {
        let registry = gateway.registry
        guard let info = registry.provider(named: registry.router.defaultProvider)?.info else { return [] }
        var lines = [
            "answers come from \(info.name) (model \(info.model), \(info.residency.rawValue)); /models lists all"
        ]
        let path =
            configuration(settings)?.providers.first { $0.name == info.name && $0.kind == .local }?.model
            ?? (settings.routing == nil ? settings.modelOverride?.value ?? settings.defaultModelPath : nil)
        if let path, path.hasSuffix(DefaultModel.fileName) {
            lines.append(
                "\(info.model) is a small demonstration model: not fit for clinical or financial answers; "
                    + "an admin configures a real model in deploy/enclave.yaml (README, \"Models\")")
        }
        return lines
    }
}

/// Probes every provider's health periodically, so a provider that went down is known before a user's
/// message waits for its timeout (ProviderHealth's rule; `/models` shows it `down`). Ends on shutdown.
struct HealthProbeService: Service {
    let gateway: ProviderGateway
    var interval: Duration = .seconds(30)

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                await gateway.health.probe(gateway.registry.providers)
            }
        }
    }
}

/// Runs the audit log's timer (`audit.checkpoint_every_seconds`), so a quiet log is checkpointed — and its
/// outside copy fed — too; ends on shutdown.
struct AuditCheckpointService: Service {
    let audit: AuditLog

    func run() async {
        await cancelWhenGracefulShutdown {
            _ = try? await audit.run()
        }
    }
}
