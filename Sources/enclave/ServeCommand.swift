// `enclave serve`: the chat server. The first run creates the data directory (0700) with a fresh
// master key (0600) and, when no admin exists, an `admin` account whose one-time password is printed
// once. Then it serves on 127.0.0.1:7878 with the configured providers (ServeRouting.swift; the
// local SmolLM2 model by default) and the policies in `policies/`, until SIGTERM/SIGINT (graceful:
// in-flight replies end with a notice and a final line).
import ArgumentParser
import ChatCore
import ChatServer
import Foundation
import Logging
import Routing
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the chat server (line protocol; `nc localhost 7878` is a client).")

    @Option(help: "Configuration file (YAML: server, limits, providers, routing; default deploy/enclave.yaml).")
    var config: String?
    @Option(help: "Address to listen on, HOST:PORT (default 127.0.0.1:7878).") var listen: String?
    @Option(help: "Data directory (default: $ENCLAVE_DATA_DIR or ./data).") var dataDir: String?
    @Option(help: "Policy directory (default ./policies).") var policies: String?
    @Option(help: "Model file (default: the pinned SmolLM2 under ./models).") var model: String?
    @Option(help: "TLS certificate chain (PEM).") var tlsCert: String?
    @Option(help: "TLS private key (PEM).") var tlsKey: String?
    @Flag(help: "Allow a non-loopback address without TLS.") var insecureBind = false

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var settings = try ServeSettings.load(path: config)
        if let listen { try settings.setListen(listen) }
        if let dataDir {
            settings.dataDirectory = dataDir
        } else if config == nil, let fromEnvironment = environment["ENCLAVE_DATA_DIR"] {
            settings.dataDirectory = fromEnvironment
        }
        if let policies { settings.policies = policies }
        if let tlsCert, let tlsKey {
            settings.server.tls = .init(certificatePath: tlsCert, keyPath: tlsKey)
        }
        if insecureBind { settings.server.allowInsecureBind = true }
        guard settings.server.tls != nil || settings.server.isLoopback || settings.server.allowInsecureBind else {
            throw ValidationError(ChatServerError.insecureBind(settings.server.host).description)
        }

        var logger = Logger(label: "enclave.serve")
        logger.logLevel = .info
        let (gateway, registry) = try await ServeRouting.gateway(
            config: config, modelPath: model ?? DefaultModel.path(environment: environment),
            kvCacheBytes: settings.kvCacheBytes)
        let backends = try await ServerAssembly.open(
            dataDirectory: settings.dataDirectory, policies: settings.policies, gateway: gateway, audit: settings.audit)
        if let created = try await backends.ensureAdmin() {
            say("created the admin account `\(created.name)`; its one-time password (shown only now) is:")
            say("    \(created.password)")
            say("change it with: enclave users passwd \(created.name) --data-dir \(settings.dataDirectory)")
        }
        let core = try backends.core(configuration: settings.limits, logger: logger)
        let server = try await ChatServer(
            configuration: settings.server, core: core, version: EnclaveVersion.current, logger: logger)
        say(
            "enclave \(EnclaveVersion.current) listening on \(settings.server.host):\(server.port)"
                + (settings.server.tls == nil ? "" : " (TLS)") + "; try: nc \(settings.server.host) \(server.port)")
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: server), backends.policyReloader(logger: logger),
                    .init(service: HealthProbeService(gateway: gateway)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await backends.close()
        await registry?.shutdown()
    }

    /// Writes a line to standard output at once (unbuffered, so a supervising script sees it).
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
