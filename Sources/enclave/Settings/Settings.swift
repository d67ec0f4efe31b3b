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

/// One setting's names at each level; `flag` is nil where no command takes it as a flag.
struct SettingName: Sendable {
    let key: String
    let flag: String?
    let environment: String
    let file: String
    let summary: String
}

/// Every path-like setting, in the order `config show` prints them.
enum SettingNames {
    static let config = SettingName(
        key: "config", flag: "--config", environment: "ENCLAVE_CONFIG", file: "-",
        summary: "the configuration file (default deploy/enclave.yaml when present)")
    static let listen = SettingName(
        key: "listen", flag: "--listen", environment: "ENCLAVE_LISTEN", file: "server.listen",
        summary: "address to listen on")
    static let dataDirectory = SettingName(
        key: "data_dir", flag: "--data-dir", environment: "ENCLAVE_DATA_DIR", file: "server.data_dir",
        summary: "database, master key and audit log")
    static let database = SettingName(
        key: "database", flag: "--database", environment: "ENCLAVE_DATABASE", file: "server.database",
        summary: "the SQLite database")
    static let auditDirectory = SettingName(
        key: "audit_dir", flag: "--audit-dir", environment: "ENCLAVE_AUDIT_DIR", file: "server.audit_dir",
        summary: "the audit log")
    static let policies = SettingName(
        key: "policies", flag: "--policies", environment: "ENCLAVE_POLICIES", file: "server.policies",
        summary: "the residency policy directory")
    static let prompts = SettingName(
        key: "prompts", flag: nil, environment: "ENCLAVE_PROMPTS", file: "server.prompts",
        summary: "system prompts, prompts/<name>.v<N>.txt")
    static let model = SettingName(
        key: "model", flag: "--model", environment: "ENCLAVE_MODEL", file: "providers[default].model_path",
        summary: "the default local provider's GGUF file")
    static let keyFile = SettingName(
        key: "key_file", flag: "--key-file", environment: "ENCLAVE_KEY_FILE", file: "keys.file",
        summary: "the master key file (0600)")
    static let tlsCertificate = SettingName(
        key: "tls_cert", flag: "--tls-cert", environment: "ENCLAVE_TLS_CERT", file: "server.tls_cert",
        summary: "TLS certificate chain (PEM)")
    static let tlsKey = SettingName(
        key: "tls_key", flag: "--tls-key", environment: "ENCLAVE_TLS_KEY", file: "server.tls_key",
        summary: "TLS private key (PEM)")

    static let all = [
        config, listen, dataDirectory, database, auditDirectory, policies, prompts, model, keyFile, tlsCertificate,
        tlsKey,
    ]
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
        func pick(_ name: SettingName, flag: String?, file: String?, default fallback: String) -> Resolved<String> {
            if let flag { return Resolved(value: flag, source: .flag) }
            if let value = environment[name.environment], !value.isEmpty {
                return Resolved(value: value, source: .environment)
            }
            if let file { return Resolved(value: file, source: .file) }
            return Resolved(value: fallback, source: .default)
        }

        let path: Resolved<String>? =
            if let config = flags.config {
                Resolved(value: config, source: .flag)
            } else if let config = environment[SettingNames.config.environment], !config.isEmpty {
                Resolved(value: config, source: .environment)
            } else if FileManager.default.fileExists(atPath: SettingsFile.shippedPath) {
                Resolved(value: SettingsFile.shippedPath, source: .default)
            } else {
                nil
            }
        let file = try path.map { try SettingsFile.load(path: $0.value) } ?? SettingsFile()

        let data = pick(SettingNames.dataDirectory, flag: flags.dataDirectory, file: file.dataDirectory, default: "data")
        let database = pick(
            SettingNames.database, flag: flags.database, file: file.database, default: data.value + "/enclave.db")
        // The audit log sits beside the database unless placed elsewhere.
        let databaseDirectory = (database.value as NSString).deletingLastPathComponent
        let audit = pick(
            SettingNames.auditDirectory, flag: flags.auditDirectory, file: file.auditDirectory,
            default: (databaseDirectory.isEmpty ? "." : databaseDirectory) + "/audit")
        let keySource: Resolved<KeySource>
        if let env = flags.keyEnvironment {
            keySource = Resolved(value: .environment(env), source: .flag)
        } else if let command = flags.keyCommand {
            keySource = Resolved(value: .command(command.split(separator: " ").map(String.init)), source: .flag)
        } else if flags.keyFile == nil, environment[SettingNames.keyFile.environment] == nil,
            let fromFile = file.keySource
        {
            keySource = Resolved(value: fromFile, source: .file)
        } else {
            let keyFile = pick(
                SettingNames.keyFile, flag: flags.keyFile, file: nil,
                default: ServerAssembly.masterKeyPath(data.value))
            keySource = Resolved(value: .file(keyFile.value), source: keyFile.source)
        }

        var server = file.server
        let listen = pick(SettingNames.listen, flag: flags.listen, file: file.listen, default: "127.0.0.1:7878")
        try server.setListen(listen.value)
        let certificate = pick(SettingNames.tlsCertificate, flag: flags.tlsCertificate, file: file.tlsCertificate, default: "")
        let key = pick(SettingNames.tlsKey, flag: flags.tlsKey, file: file.tlsKey, default: "")
        switch (certificate.value.isEmpty, key.value.isEmpty) {
        case (true, true): server.tls = nil
        case (false, false): server.tls = .init(certificatePath: certificate.value, keyPath: key.value)
        default: throw ValidationError("a TLS certificate and its key go together (tls_cert and tls_key)")
        }
        if flags.insecureBind { server.allowInsecureBind = true }

        let model: Resolved<String>? =
            if let flag = flags.model {
                Resolved(value: flag, source: .flag)
            } else if let value = environment[SettingNames.model.environment], !value.isEmpty {
                Resolved(value: value, source: .environment)
            } else {
                nil
            }
        return Settings(
            file: path, listen: listen, dataDirectory: data, database: database, auditDirectory: audit,
            policies: pick(SettingNames.policies, flag: flags.policies, file: file.policies, default: "policies"),
            prompts: pick(SettingNames.prompts, flag: nil, file: file.prompts, default: "prompts"),
            keySource: keySource, tls: server.tls, server: server, limits: file.limits, engine: file.engine,
            routing: file.routing, modelOverride: model,
            defaultModelPath: DefaultModel.path(environment: environment), audit: file.audit)
    }

    /// `name = value (source)` lines for `enclave config show` and `doctor`.
    var described: [(name: String, value: String, source: SettingSource)] {
        var rows: [(String, String, SettingSource)] = []
        if let file { rows.append(("config", file.value, file.source)) }
        rows.append(("listen", listen.value, listen.source))
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
