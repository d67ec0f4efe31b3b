// `enclave config show`: every setting in force and where it came from (flag, environment, file or
// default), resolved exactly as `serve` and the other commands resolve them; `config check` only
// validates. Neither prints a key or a secret: a key source is named, never read.
import ArgumentParser
import Foundation
import Policy
import Routing

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show or check the configuration every command resolves.",
        subcommands: [Show.self, Check.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each setting with its value and source (flag > environment > file > default).")
        @OptionGroup var options: MasterKeyOptions
        @Option(help: "Policy directory, as `serve --policies`.") var policies: String?
        @Option(help: "Model file, as `serve --model`.") var model: String?
        @Option(help: "Listen address, as `serve --listen`.") var listen: String?

        func run() throws {
            var flags = options.flags
            flags.policies = policies
            flags.model = model
            flags.listen = listen
            let settings = try Settings.resolve(flags)
            for row in settings.described { print("\(row.name)\t\(row.value)\t\(row.source.rawValue)") }
            let engine = settings.engine
            print("engine.threads\t\(engine.effectiveThreads)\t\(engine.threads == nil ? "default" : "file")")
            print("engine.kv_cache_mb\t\(engine.kvCacheBytes >> 20)\t-")
            if let routing = ServeRouting.configuration(settings) {
                for provider in routing.providers {
                    print(
                        "provider.\(provider.name)\t\(provider.kind.rawValue) \(provider.residency.rawValue) \(provider.model)\t-"
                    )
                }
                print("routing.default\t\(routing.defaultProvider)\t-")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration file; exit 1 on an error.")
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let settings = try options.resolve()
            print("ok: \(settings.file?.value ?? "no configuration file; built-in defaults")")
        }
    }
}
