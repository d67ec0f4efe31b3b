// The `health:` section: the operator's listener for /healthz, /readyz and /metrics (HealthServer).
//
//     health:
//       listen: 127.0.0.1:7879   # HOST:PORT, or `off`; default: 127.0.0.1 at the chat port + 1
//       tls: false               # true: serve it over TLS with server.tls_cert / tls_key
//       insecure_bind: false     # allow a non-loopback address without TLS
//
// The default follows the chat port, so a second server started with `--listen HOST:0` (the tests, a
// staging copy) gets a free health port too instead of failing on the first one's.
import ArgumentParser
import ChatServer
import EnclaveConfiguration
import Routing
import Yams

struct HealthSettings {
    /// `HOST:PORT`, or `off`.
    var listen: String?
    var tls = false
    var insecureBind = false

    static func parse(_ node: Node, reader: ConfigurationReader) throws(ConfigurationError) -> HealthSettings {
        let map = try reader.mapping(node, "health", allowed: ["listen", "tls", "insecure_bind"])
        var settings = HealthSettings()
        if let value = map["listen"] {
            let listen = try reader.string(value, "health.listen")
            guard listen == "off" || (try? Self.address(listen)) != nil else {
                throw reader.error(value, "health.listen wants HOST:PORT or off", hint: "e.g. 127.0.0.1:7879")
            }
            settings.listen = listen
        }
        if let value = map["tls"] { settings.tls = try reader.bool(value, "health.tls") }
        if let value = map["insecure_bind"] { settings.insecureBind = try reader.bool(value, "health.insecure_bind") }
        return settings
    }

    /// The default address: loopback at the chat port + 1, or a free port when the chat port is 0 (or
    /// the last one).
    static func defaultListen(chatPort: Int) -> String {
        "127.0.0.1:\(chatPort == 0 || chatPort >= 65535 ? 0 : chatPort + 1)"
    }

    /// Host and port of `HOST:PORT` (`[::1]:7879` for IPv6), by the chat port's rule.
    static func address(_ value: String) throws -> (host: String, port: Int) {
        var parsed = ServerConfiguration()
        try parsed.setListen(value)
        return (parsed.host, parsed.port)
    }

    /// The listener's configuration, or nil when `listen` is `off`.
    static func listener(_ listen: String, file: HealthSettings, server: ServerConfiguration) throws
        -> HealthListenerConfiguration?
    {
        guard listen != "off" else { return nil }
        let (host, port) = try address(listen)
        if file.tls && server.tls == nil {
            throw ValidationError("health.tls needs the chat port's certificate (server.tls_cert and tls_key)")
        }
        return HealthListenerConfiguration(
            host: host, port: port, tls: file.tls ? server.tls : nil, allowInsecureBind: file.insecureBind)
    }
}
