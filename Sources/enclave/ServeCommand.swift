// `enclave serve`: the chat server. The first run creates the data directory (0700) with a fresh
// master key (0600) and, when no admin exists, an `admin` account whose one-time password is printed
// once. Then it serves on 127.0.0.1:7878 with the configured providers (ServeRouting.swift; the
// local SmolLM2 model by default) and the policies in `policies/`, until SIGTERM/SIGINT (graceful:
// in-flight replies end with a notice and a final line).
import ArgumentParser
import ChatCore
import ChatServer
import Evaluation
import Foundation
import Logging
import Routing
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the chat server (line protocol; `nc localhost 7878` is a client).")

    @OptionGroup var options: ConfigOptions
    @Option(
        help: "Address to listen on, HOST:PORT (default: $ENCLAVE_LISTEN, else server.listen, else 127.0.0.1:7878).")
    var listen: String?
    @Option(help: "Policy directory (default: $ENCLAVE_POLICIES, else server.policies, else ./policies).")
    var policies: String?
    @Option(help: "Model file of the default local provider (default: $ENCLAVE_MODEL, else its model_path).")
    var model: String?
    @Option(help: "TLS certificate chain (PEM).") var tlsCert: String?
    @Option(help: "TLS private key (PEM).") var tlsKey: String?
    @Flag(help: "Allow a non-loopback address without TLS.") var insecureBind = false
    @Option(
        help: """
            Health and metrics listener (/healthz, /readyz, /metrics), HOST:PORT or off (default: \
            $ENCLAVE_HEALTH_LISTEN, else health.listen, else 127.0.0.1 at the chat port + 1).
            """)
    var healthListen: String?
    @Option(help: "The log on standard error: text (one line per event) or json (one object per line).")
    var logFormat: LogFormat = .text
    @Option(
        help: ArgumentHelp(
            "Write the first admin's one-time password to this new file (mode 0600) instead of standard output "
                + "(default: $ENCLAVE_INITIAL_PASSWORD_FILE, else server.initial_password_file).",
            valueName: "path"))
    var initialPasswordFile: String?

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }

    /// The settings this run serves with (flags, then environment, then the file, then defaults).
    func settings() throws -> Settings {
        var flags = options.flags
        flags.listen = listen
        flags.policies = policies
        flags.model = model
        flags.tlsCertificate = tlsCert
        flags.tlsKey = tlsKey
        flags.insecureBind = insecureBind
        flags.healthListen = healthListen
        flags.initialPasswordFile = initialPasswordFile
        return try Settings.resolve(flags)
    }

    func run() async throws {
        let settings = try settings()
        let server = settings.server
        guard server.tls != nil || server.isLoopback || server.allowInsecureBind else {
            throw ValidationError(ChatServerError.insecureBind(server.host).description)
        }
        if let health = settings.health, health.tls == nil, !health.isLoopback, !health.allowInsecureBind {
            throw ValidationError(
                "refusing to serve /metrics and /readyz on \(health.host) without TLS: set health.tls: true "
                    + "(with server.tls_cert/tls_key) or health.insecure_bind: true")
        }

        logFormat.bootstrap()
        let metrics = ServeMetrics.bootstrap(version: EnclaveVersion.current)
        var logger = Logger(label: "enclave.serve")
        logger.logLevel = .info
        let (gateway, registry) = try await ServeRouting.gateway(settings)
        // A canary with `stop_when` is watched by the gateway, and stopped on its own (audited) when it
        // crosses a bound.
        let backends = try await ServerAssembly.open(settings.locations, gateway: gateway, audit: settings.audit)
        try await backends.ensureAdmin { name, password in
            try announce(name: name, password: password, file: settings.initialPasswordFile?.value)
        }
        let core = try backends.core(configuration: settings.limits, logger: logger)
        var configuration = server
        configuration.notices = ServeRouting.notices(settings, gateway: gateway)
        for notice in configuration.notices { say(notice) }
        let chat = try await ChatServer(
            configuration: configuration, core: core, version: EnclaveVersion.current, logger: logger)
        let probe = ReadinessProbe(gateway: gateway, assembly: backends, databasePath: settings.database.value)
        var health: HealthServer?
        var healthNote = ""
        if let listener = settings.health {
            do {
                let bound = try await HealthServer(
                    configuration: listener, endpoints: probe.endpoints(metrics: metrics), logger: logger)
                health = bound
                healthNote = "; health on \(listener.host):\(bound.port)"
            } catch  where settings.healthListen.source == .default {
                // Nobody asked for this port (it is the chat port + 1): another program holding it must not
                // stop the chat server on a first run. A configured address that cannot be bound still fails.
                logger.warning(
                    "health.unavailable",
                    metadata: [
                        "health.address": "\(listener.host):\(listener.port)", "error.type": "\(type(of: error))",
                    ])
                healthNote = "; no health listener (\(listener.host):\(listener.port) is taken; set health.listen)"
            }
        }
        let listening =
            "enclave \(EnclaveVersion.current) listening on \(server.host):\(chat.port)"
            + (server.tls == nil ? "" : " (TLS)") + "; try: nc \(server.host) \(chat.port)" + healthNote
        // Both end at graceful shutdown without cancelling the group, so the chat server still drains.
        var operations: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let health { operations.append(.init(service: health, successTerminationBehavior: .ignore)) }
        let notifier = SystemdNotifier()
        if let notifier {
            let watchdog = SystemdWatchdog(notifier: notifier, interval: SystemdNotifier.watchdogInterval())
            operations.append(.init(service: watchdog, successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: chat), backends.policyReloader(logger: logger),
                    .init(service: HealthProbeService(gateway: gateway)),
                    .init(service: AuditCheckpointService(audit: backends.audit)),
                    .init(service: backends.retentionService(logger: logger)),
                ] + operations + [
                    // Last, so "listening" is said only once the group handles SIGTERM: a supervisor that
                    // stops the server right after reading it gets a graceful shutdown, not a kill.
                    .init(
                        service: Announcement(line: listening, notifier: notifier), successTerminationBehavior: .ignore)
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await backends.close()
        await registry?.shutdown()
    }

    /// Tells the operator the first admin's one-time password: on standard output, or (under a service
    /// manager, whose journal keeps standard output) in a new file only its owner can read.
    private func announce(name: String, password: String, file: String?) throws {
        let rule = "it works for one session, in which you choose your own with /passwd <current> <new>"
        guard let file else {
            say("created the admin account `\(name)`; its one-time password (shown only now) is:")
            say("    \(password)")
            say("log in with /login \(name) <that password>; \(rule)")
            return
        }
        do {
            try SecretFile.write(password + "\n", to: file)
        } catch {
            throw ValidationError("cannot write the one-time password to \(file): \(error); no account was created")
        }
        say("created the admin account `\(name)`; its one-time password is in \(file) (mode 0600)")
        say("log in with /login \(name) <that password>; \(rule); then delete the file")
    }

    /// Writes a line to standard output at once (unbuffered, so a supervising script sees it).
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// Says that the server listens, from inside the running service group; under systemd (Type=notify) it
/// then sends READY=1, both listeners being bound by now.
struct Announcement: Service {
    let line: String
    var notifier: SystemdNotifier?

    func run() async {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        notifier?.send("READY=1\nSTATUS=listening\nMAINPID=\(getpid())")
        try? await gracefulShutdown()
    }
}
