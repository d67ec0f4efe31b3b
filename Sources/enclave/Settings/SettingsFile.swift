// The configuration file (YAML, deploy/enclave.yaml as shipped), read once with Yams into typed
// sections. Every section is strict: an unknown section or key, a duplicate, or a bad value is an error
// naming file:line:column, so a typo never silently leaves a default in force.
//
//     server:    listen, data_dir, database, audit_dir, policies, prompts, tls_cert, tls_key, insecure_bind
//     limits:    the transport's and the chat's limits (line sizes, idle times, connections, rates, reply tokens)
//     engine:    the local engine: threads, context_length, kv_cache_mb, and sampling defaults
//     keys:      where the master keys come from: file | env | command (one of them)
//     audit:     checkpoint_every_records, checkpoint_every_seconds, checkpoint_command (the outside anchor),
//                retention_days
//     health:    listen, tls, insecure_bind (the /healthz, /readyz and /metrics listener; HealthSettings.swift)
//     providers: / routing:   read by Routing's RoutingConfiguration
import ArgumentParser
import Audit
import ChatCore
import ChatServer
import EnclaveConfiguration
import Foundation
import Inference
import Routing
import Storage
import Yams

/// What the file says; nil fields were not given.
struct SettingsFile {
    static let shippedPath = "deploy/enclave.yaml"

    var listen: String?
    var dataDirectory: String?
    var database: String?
    var auditDirectory: String?
    var policies: String?
    var prompts: String?
    var tlsCertificate: String?
    var tlsKey: String?
    var initialPasswordFile: String?
    var keySource: KeySource?
    var server = ServerConfiguration()
    var limits = ChatCore.Configuration()
    var engine = EngineSettings()
    var routing: RoutingConfiguration?
    /// The audit log's checkpoints (interval in records and time, the outside-copy command) and retention.
    var audit = AuditLog.Configuration()
    /// The health and metrics listener (`health:`).
    var health = HealthSettings()

    static let sections: Set<String> = [
        "server", "limits", "engine", "keys", "audit", "providers", "routing", "health",
    ]

    /// Reads and validates `path`; relative paths inside resolve against the file's directory.
    static func load(path: String) throws -> SettingsFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the configuration file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("\(path): the configuration file is not UTF-8 text")
        }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            return try parse(text, file: path, baseDirectory: directory.isEmpty ? "." : directory)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Validates configuration text; `file` names it in errors.
    static func parse(_ text: String, file: String, baseDirectory: String) throws(ConfigurationError) -> SettingsFile {
        let reader = ConfigurationReader(file: file)
        let root = try reader.mapping(reader.document(text), "the configuration", allowed: sections)
        var settings = SettingsFile()
        func path(_ node: Node, _ what: String) throws(ConfigurationError) -> String {
            RoutingConfiguration.resolve(try reader.string(node, what), against: baseDirectory)
        }
        if let node = root["server"] {
            let map = try reader.mapping(
                node, "server",
                allowed: [
                    "listen", "data_dir", "database", "audit_dir", "policies", "prompts", "tls_cert", "tls_key",
                    "insecure_bind", "log_client_addresses", "initial_password_file",
                ])
            if let value = map["listen"] {
                settings.listen = try reader.string(value, "server.listen")
                do { try settings.server.setListen(settings.listen!) } catch {
                    throw reader.error(value, "server.listen wants HOST:PORT", hint: "e.g. 127.0.0.1:7878")
                }
            }
            settings.dataDirectory = try map["data_dir"].map { n throws(ConfigurationError) in try path(n, "data_dir") }
            settings.database = try map["database"].map { n throws(ConfigurationError) in try path(n, "database") }
            settings.auditDirectory = try map["audit_dir"].map { n throws(ConfigurationError) in
                try path(n, "audit_dir")
            }
            settings.policies = try map["policies"].map { n throws(ConfigurationError) in try path(n, "policies") }
            settings.prompts = try map["prompts"].map { n throws(ConfigurationError) in try path(n, "prompts") }
            settings.tlsCertificate = try map["tls_cert"].map { n throws(ConfigurationError) in
                try path(n, "tls_cert")
            }
            settings.tlsKey = try map["tls_key"].map { n throws(ConfigurationError) in try path(n, "tls_key") }
            settings.initialPasswordFile = try map["initial_password_file"].map { n throws(ConfigurationError) in
                try path(n, "initial_password_file")
            }
            if let value = map["insecure_bind"] {
                settings.server.allowInsecureBind = try reader.bool(value, "insecure_bind")
            }
            if let value = map["log_client_addresses"] {
                switch try reader.string(value, "log_client_addresses") {
                case "clear": settings.server.logClientAddresses = true
                case "pseudonymised": settings.server.logClientAddresses = false
                default: throw reader.error(value, "log_client_addresses is `pseudonymised` (default) or `clear`")
                }
            }
        }
        if let node = root["limits"] { try settings.readLimits(node, reader: reader) }
        if let node = root["engine"] { settings.engine = try EngineSettings.parse(node, reader: reader) }
        if let node = root["keys"] {
            let map = try reader.mapping(node, "keys", allowed: ["file", "env", "command"])
            switch (map["file"], map["env"], map["command"]) {
            case (let file?, nil, nil): settings.keySource = .file(try path(file, "keys.file"))
            case (nil, let env?, nil): settings.keySource = .environment(try reader.string(env, "keys.env"))
            case (nil, nil, let command?):
                settings.keySource = .command(try reader.strings(command, "keys.command (a list of words)"))
            case (nil, nil, nil): break
            default: throw reader.error(node, "keys takes one of file, env or command")
            }
        }
        if let node = root["audit"] { settings.audit = try Self.readAudit(node, reader: reader) }
        if let node = root["health"] { settings.health = try HealthSettings.parse(node, reader: reader) }
        if root["providers"] != nil || root["routing"] != nil {
            settings.routing = try RoutingConfiguration.parse(text, file: file, baseDirectory: baseDirectory)
        }
        return settings
    }

    /// The `audit:` section. The checkpoint command is an argv list or one space-separated text, and its
    /// program an absolute path: no shell and no PATH lookup decide what receives the checkpoints.
    static func readAudit(_ node: Node, reader: ConfigurationReader) throws(ConfigurationError)
        -> AuditLog.Configuration
    {
        let map = try reader.mapping(
            node, "audit",
            allowed: ["checkpoint_every_records", "checkpoint_every_seconds", "checkpoint_command", "retention_days"])
        var audit = AuditLog.Configuration()
        if let value = map["checkpoint_every_records"] {
            audit.checkpointEvery = try reader.int(value, "audit.checkpoint_every_records", range: 1...10_000_000)
        }
        if let value = map["checkpoint_every_seconds"] {
            audit.checkpointInterval = .seconds(
                try reader.int(value, "audit.checkpoint_every_seconds", range: 1...86_400))
        }
        if let value = map["checkpoint_command"] {
            let argv: [String]
            if case .sequence = value {
                argv = try reader.strings(value, "audit.checkpoint_command")
            } else {
                argv = try reader.string(value, "audit.checkpoint_command").split(separator: " ").map(String.init)
            }
            guard let program = argv.first, program.hasPrefix("/") else {
                throw reader.error(value, "audit.checkpoint_command wants an absolute program path and its arguments")
            }
            audit.checkpointCommand = argv
        }
        if let value = map["retention_days"] {
            audit.retentionDays = try reader.int(value, "audit.retention_days", range: 1...36_500)
        }
        return audit
    }

    private mutating func readLimits(_ node: Node, reader: ConfigurationReader) throws(ConfigurationError) {
        let keys: [String] = [
            "line_bytes_before_login", "line_bytes_after_login", "paste_bytes", "idle_seconds_before_login",
            "idle_seconds_after_login", "stall_seconds", "max_connections", "max_connections_per_address",
            "lockout_failures", "lockout_minutes", "messages_per_minute", "message_burst", "concurrent_generations",
            "max_tokens",
        ]
        let map = try reader.mapping(node, "limits", allowed: Set(keys))
        for key in keys {
            guard let value = map[key] else { continue }
            let number = try reader.int(
                value, "limits.\(key)", range: key.hasPrefix("line") ? 64...16_777_216 : 0...100_000_000)
            switch key {
            case "line_bytes_before_login": server.lineLimitBeforeLogin = number
            case "line_bytes_after_login": server.lineLimitAfterLogin = number
            case "paste_bytes": server.pasteLimit = number
            case "idle_seconds_before_login": server.idleBeforeLogin = .seconds(number)
            case "idle_seconds_after_login": server.idleAfterLogin = .seconds(number)
            case "stall_seconds": server.stallTimeout = .seconds(number)
            case "max_connections": server.maxConnections = number
            case "max_connections_per_address": server.maxConnectionsPerAddress = number
            case "lockout_failures": limits.lockoutThreshold = number
            case "lockout_minutes": limits.lockoutDuration = TimeInterval(number * 60)
            case "messages_per_minute": limits.budget.messagesPerMinute = Double(number)
            case "message_burst": limits.budget.burst = Double(number)
            case "concurrent_generations": limits.budget.concurrentGenerations = number
            default: limits.maxTokens = max(1, number)
            }
        }
    }
}

extension ServerConfiguration {
    /// Sets host and port from `HOST:PORT` (`[::1]:7878` for IPv6).
    mutating func setListen(_ value: String) throws {
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
            (0...65535).contains(port), colon > value.startIndex
        else { throw ValidationError("listen wants HOST:PORT, e.g. 127.0.0.1:7878 (got \(value))") }
        host = String(value[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
    }
}
