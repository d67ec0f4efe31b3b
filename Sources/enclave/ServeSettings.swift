// The `server:`, `limits:` and `audit:` sections of the configuration file (see deploy/server-defaults.yaml),
// with the defaults embedded so `enclave serve` runs without any file. Other sections (providers,
// ...) belong to other parts and are skipped here. The reader accepts the two-level `key: value`
// subset these sections use and rejects unknown keys with file:line, so a typo never goes unnoticed.
import ArgumentParser
import Audit
import ChatCore
import ChatServer
import Foundation
import Inference

struct ServeSettings {
    var server = ServerConfiguration()
    var limits = ChatCore.Configuration()
    var dataDirectory = "data"
    var policies = "policies"
    /// The most memory the local engine keeps in KV caches for conversations' next turns.
    var kvCacheBytes = InferenceEngine.defaultCachePoolBytes
    /// The audit log's checkpoints (interval in records and time, the outside-copy command) and retention.
    var audit = AuditLog.Configuration()

    /// The defaults, overlaid with `path`'s `server:` and `limits:` sections when given.
    static func load(path: String?) throws -> ServeSettings {
        var settings = ServeSettings()
        guard let path else { return settings }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read the configuration file \(path)")
        }
        var section: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard !line.allSatisfy({ $0 == " " }) else { continue }
            let location = "\(path):\(index + 1)"
            if !line.hasPrefix(" ") {
                section = String(line.trimmingCharacters(in: .whitespaces).dropLast())
                continue
            }
            guard section == "server" || section == "limits" || section == "audit" else { continue }
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw ValidationError("\(location): expected `key: value`") }
            try settings.set(
                section!, parts[0], parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'")), at: location)
        }
        return settings
    }

    mutating func setListen(_ value: String) throws {
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw ValidationError("--listen wants HOST:PORT, e.g. 127.0.0.1:7878") }
        server.host = String(value[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        server.port = port
    }

    private mutating func set(_ section: String, _ key: String, _ value: String, at location: String) throws {
        func int() throws -> Int {
            guard let number = Int(value), number >= 0 else {
                throw ValidationError("\(location): \(key) wants a whole number, got \(value)")
            }
            return number
        }
        switch (section, key) {
        case ("server", "listen"): try setListen(value)
        case ("server", "data_dir"): dataDirectory = value
        case ("server", "policies"): policies = value
        case ("server", "tls_cert"):
            server.tls = .init(certificatePath: value, keyPath: server.tls?.keyPath ?? "")
        case ("server", "tls_key"):
            server.tls = .init(certificatePath: server.tls?.certificatePath ?? "", keyPath: value)
        case ("server", "insecure_bind"): server.allowInsecureBind = value == "true"
        case ("server", "log_client_addresses"):
            guard value == "clear" || value == "pseudonymised" else {
                throw ValidationError("\(location): \(key) is `pseudonymised` (default) or `clear`")
            }
            server.logClientAddresses = value == "clear"
        case ("limits", "line_bytes_before_login"): server.lineLimitBeforeLogin = try int()
        case ("limits", "line_bytes_after_login"): server.lineLimitAfterLogin = try int()
        case ("limits", "paste_bytes"): server.pasteLimit = try int()
        case ("limits", "idle_seconds_before_login"): server.idleBeforeLogin = .seconds(try int())
        case ("limits", "idle_seconds_after_login"): server.idleAfterLogin = .seconds(try int())
        case ("limits", "stall_seconds"): server.stallTimeout = .seconds(try int())
        case ("limits", "max_connections"): server.maxConnections = try int()
        case ("limits", "max_connections_per_address"): server.maxConnectionsPerAddress = try int()
        case ("limits", "lockout_failures"): limits.lockoutThreshold = try int()
        case ("limits", "lockout_minutes"): limits.lockoutDuration = TimeInterval(try int() * 60)
        case ("limits", "messages_per_minute"): limits.budget.messagesPerMinute = Double(try int())
        case ("limits", "message_burst"): limits.budget.burst = Double(try int())
        case ("limits", "concurrent_generations"): limits.budget.concurrentGenerations = try int()
        case ("limits", "max_tokens"): limits.maxTokens = try int()
        case ("limits", "kv_cache_mb"): kvCacheBytes = try int() << 20
        case ("audit", "checkpoint_every_records"):
            audit.checkpointEvery = try int()
            guard audit.checkpointEvery > 0 else { throw ValidationError("\(location): \(key) must be at least 1") }
        case ("audit", "checkpoint_every_seconds"):
            let seconds = try int()
            guard seconds > 0 else { throw ValidationError("\(location): \(key) must be at least 1") }
            audit.checkpointInterval = .seconds(seconds)
        case ("audit", "checkpoint_command"):
            // argv split on spaces; the program must be an absolute path (no shell, no PATH lookup).
            let argv = value.split(separator: " ").map(String.init)
            guard let program = argv.first, program.hasPrefix("/") else {
                throw ValidationError("\(location): \(key) wants an absolute program path and its arguments")
            }
            audit.checkpointCommand = argv
        case ("audit", "retention_days"): audit.retentionDays = try int()
        default: throw ValidationError("\(location): unknown setting \(section).\(key)")
        }
    }
}
