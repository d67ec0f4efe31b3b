// The one configuration of every `enclave` command: each setting is resolved once, by one rule —
// command-line flag, then environment variable, then the configuration file, then the built-in default —
// whichever command asks (`serve`, `users`, `keys`, `audit`, `policy`, `doctor`, `bench`). The table below
// is the single list of settings; README.md's configuration table is written from it, and
// `enclave config show` prints every value with where it came from.
//
// Paths: a relative path in the file resolves against the file's directory (a service manager starts the
// server in `/`); a relative path from a flag, the environment or a default resolves against the working
// directory, as a person typing it expects.
import ArgumentParser
import Audit
import ChatCore
import ChatServer
import Foundation
import Routing
import Storage

/// Where a setting's value came from, strongest first.
enum SettingSource: String, Sendable, CaseIterable {
    case flag, environment, file, `default`
}

/// A value and its origin.
struct Resolved<Value> {
    var value: Value
    var source: SettingSource
}

/// The environment variable of each setting that has one (README.md's configuration table lists the
/// flag and the file key beside each). An empty variable counts as unset.
enum SettingVariable: String {
    case config = "ENCLAVE_CONFIG"
    case listen = "ENCLAVE_LISTEN"
    case dataDirectory = "ENCLAVE_DATA_DIR"
    case database = "ENCLAVE_DATABASE"
    case auditDirectory = "ENCLAVE_AUDIT_DIR"
    case policies = "ENCLAVE_POLICIES"
    case prompts = "ENCLAVE_PROMPTS"
    case model = "ENCLAVE_MODEL"
    case keyFile = "ENCLAVE_KEY_FILE"
    case tlsCertificate = "ENCLAVE_TLS_CERT"
    case tlsKey = "ENCLAVE_TLS_KEY"
    case healthListen = "ENCLAVE_HEALTH_LISTEN"
    case initialPasswordFile = "ENCLAVE_INITIAL_PASSWORD_FILE"
}

/// The resolved configuration of one command run.
struct Settings {
    /// The file read, if any.
    var file: Resolved<String>?
    var listen: Resolved<String>
    var dataDirectory: Resolved<String>
    var database: Resolved<String>
    var auditDirectory: Resolved<String>
    var policies: Resolved<String>
    var prompts: Resolved<String>
    /// The master keys: a file, an environment variable, or a command's output.
    var keySource: Resolved<KeySource>
    var tls: ServerConfiguration.TLSFiles?
    /// The server's transport limits and listen address.
    var server: ServerConfiguration
    var limits: ChatCore.Configuration
    var engine: EngineSettings
    /// Providers and routing from the file; nil means the built-in default (the local model alone).
    var routing: RoutingConfiguration?
    /// A `--model`/`ENCLAVE_MODEL` override of the default local provider's file.
    var modelOverride: Resolved<String>?
    /// The pinned default model's path (`ENCLAVE_MODEL_DIR` or ./models).
    var defaultModelPath: String
    /// The audit log's checkpoints and retention (`audit:`).
    var audit: AuditLog.Configuration
    /// The health and metrics listener's address (`health.listen`, `HOST:PORT` or `off`).
    var healthListen: Resolved<String>
    /// The health listener, or nil when it is off.
    var health: HealthListenerConfiguration?
    /// Where the first admin's one-time password goes (a new 0600 file) instead of standard output.
    var initialPasswordFile: Resolved<String>?

    /// The key file path when the keys come from a file.
    var keyFilePath: String? {
        if case .file(let path) = keySource.value { return path }
        return nil
    }

    /// Resolves every setting from `flags`, the environment and the configuration file.
    static func resolve(
        _ flags: SettingFlags, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws -> Settings {
        func variable(_ name: SettingVariable) -> String? {
            environment[name.rawValue].flatMap { $0.isEmpty ? nil : $0 }
        }
        /// The flag or the variable, when either is given.
        func given(_ name: SettingVariable, flag: String?) -> Resolved<String>? {
            if let flag { return Resolved(value: flag, source: .flag) }
            return variable(name).map { Resolved(value: $0, source: .environment) }
        }
        func pick(_ name: SettingVariable, flag: String?, file: String?, default fallback: String) -> Resolved<String> {
            given(name, flag: flag) ?? file.map { Resolved(value: $0, source: .file) }
                ?? Resolved(value: fallback, source: .default)
        }

        let path =
            given(.config, flag: flags.config)
            ?? (FileManager.default.fileExists(atPath: SettingsFile.shippedPath)
                ? Resolved(value: SettingsFile.shippedPath, source: .default) : nil)
        let file = try path.map { try SettingsFile.load(path: $0.value) } ?? SettingsFile()

        let data = pick(.dataDirectory, flag: flags.dataDirectory, file: file.dataDirectory, default: "data")
        let database = pick(
            .database, flag: flags.database, file: file.database, default: data.value + "/enclave.db")
        // The audit log sits beside the database unless placed elsewhere.
        let databaseDirectory = (database.value as NSString).deletingLastPathComponent
        let audit = pick(
            .auditDirectory, flag: flags.auditDirectory, file: file.auditDirectory,
            default: (databaseDirectory.isEmpty ? "." : databaseDirectory) + "/audit")
        let keySource: Resolved<KeySource>
        if let env = flags.keyEnvironment {
            keySource = Resolved(value: .environment(env), source: .flag)
        } else if let command = flags.keyCommand {
            keySource = Resolved(value: .command(command.split(separator: " ").map(String.init)), source: .flag)
        } else if flags.keyFile == nil, variable(.keyFile) == nil, let fromFile = file.keySource {
            keySource = Resolved(value: fromFile, source: .file)
        } else {
            let keyFile = pick(
                .keyFile, flag: flags.keyFile, file: nil,
                default: ServerAssembly.masterKeyPath(data.value))
            keySource = Resolved(value: .file(keyFile.value), source: keyFile.source)
        }

        var server = file.server
        let listen = pick(.listen, flag: flags.listen, file: file.listen, default: "127.0.0.1:7878")
        try server.setListen(listen.value)
        let certificate = pick(.tlsCertificate, flag: flags.tlsCertificate, file: file.tlsCertificate, default: "")
        let key = pick(.tlsKey, flag: flags.tlsKey, file: file.tlsKey, default: "")
        switch (certificate.value.isEmpty, key.value.isEmpty) {
        case (true, true): server.tls = nil
        case (false, false): server.tls = .init(certificatePath: certificate.value, keyPath: key.value)
        default: throw ValidationError("a TLS certificate and its key go together (tls_cert and tls_key)")
        }
        if flags.insecureBind { server.allowInsecureBind = true }
        let healthListen = pick(
            .healthListen, flag: flags.healthListen, file: file.health.listen,
            default: HealthSettings.defaultListen(chatPort: server.port))
        let health = try HealthSettings.listener(healthListen.value, file: file.health, server: server)

        let model = given(.model, flag: flags.model)
        return Settings(
            file: path, listen: listen, dataDirectory: data, database: database, auditDirectory: audit,
            policies: pick(.policies, flag: flags.policies, file: file.policies, default: "policies"),
            prompts: pick(.prompts, flag: nil, file: file.prompts, default: "prompts"),
            keySource: keySource, tls: server.tls, server: server, limits: file.limits, engine: file.engine,
            routing: file.routing, modelOverride: model,
            defaultModelPath: DefaultModel.path(environment: environment), audit: file.audit,
            healthListen: healthListen, health: health,
            initialPasswordFile: given(.initialPasswordFile, flag: flags.initialPasswordFile)
                ?? file.initialPasswordFile.map { Resolved(value: $0, source: .file) })
    }

    /// `name = value (source)` lines for `enclave config show` and `doctor`.
    var described: [(name: String, value: String, source: SettingSource)] {
        var rows: [(String, String, SettingSource)] = []
        if let file { rows.append(("config", file.value, file.source)) }
        rows.append(("listen", listen.value, listen.source))
        rows.append(("health_listen", healthListen.value, healthListen.source))
        rows.append(("data_dir", dataDirectory.value, dataDirectory.source))
        rows.append(("database", database.value, database.source))
        rows.append(("audit_dir", auditDirectory.value, auditDirectory.source))
        rows.append(("policies", policies.value, policies.source))
        rows.append(("prompts", prompts.value, prompts.source))
        switch keySource.value {
        case .file(let path): rows.append(("keys", "file \(path)", keySource.source))
        case .environment(let name): rows.append(("keys", "environment variable \(name)", keySource.source))
        case .command(let words): rows.append(("keys", "command \(words.first ?? "")", keySource.source))
        }
        if let modelOverride { rows.append(("model", modelOverride.value, modelOverride.source)) }
        if let initialPasswordFile {
            rows.append(("initial_password_file", initialPasswordFile.value, initialPasswordFile.source))
        }
        return rows
    }
}

/// The values a command's flags give (nil where the command has no such flag or it was not passed).
struct SettingFlags {
    var config: String?
    var listen: String?
    var dataDirectory: String?
    var database: String?
    var auditDirectory: String?
    var policies: String?
    var model: String?
    var keyFile: String?
    var keyEnvironment: String?
    var keyCommand: String?
    var tlsCertificate: String?
    var tlsKey: String?
    var insecureBind = false
    var healthListen: String?
    var initialPasswordFile: String?
}

/// The options every command that reads the configuration shares.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Configuration file (default: $ENCLAVE_CONFIG, else deploy/enclave.yaml when present).")
    var config: String?

    @Option(help: "The data directory (default: $ENCLAVE_DATA_DIR, else server.data_dir, else ./data).")
    var dataDir: String?

    var flags: SettingFlags { SettingFlags(config: config, dataDirectory: dataDir) }

    func resolve() throws -> Settings { try Settings.resolve(flags) }
}
