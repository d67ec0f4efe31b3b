// Enclave as a systemd service, tested without systemd running: a real `enclave serve` given a
// notification socket the test binds (a path, and an abstract `@` name) says READY=1 only once its ports
// accept, feeds the watchdog at half of WATCHDOG_USEC and says STOPPING=1 on SIGTERM — under
// MemoryDenyWriteExecute's rule (PR_SET_MDWE, which the unit's setting amounts to) while the engine
// answers a message; `make install` into a temporary root stages every file where the README says, with
// sane modes, an installed configuration that `enclave config check` passes and that a second install
// never overwrites; and the installed unit passes `systemd-analyze verify` without a warning, with a low
// exposure in `systemd-analyze security`.
import EnclaveClient
import EnclaveTestSupport
import Foundation
import Synchronization
import Testing

/// A datagram socket the test binds, standing in for systemd's $NOTIFY_SOCKET. A thread reads it all
/// the time, as systemd does: the kernel queues only a few datagrams (net.unix.max_dgram_qlen, often 10).
final class NotifySocket: Sendable {
    let descriptor: Int32
    /// What $NOTIFY_SOCKET says: the path, or `@name` for an abstract socket.
    let name: String
    private let path: String?
    private let received = Mutex<[String]>([])
    private let finished = Atomic<Bool>(false)

    init(abstract: Bool) throws {
        let unique = "enclave-notify-\(UUID().uuidString.prefix(8))"
        path = abstract ? nil : FileManager.default.temporaryDirectory.path + "/\(unique).sock"
        name = path ?? "@\(unique)"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array((path ?? unique).utf8)
        if abstract { bytes.insert(0, at: 0) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard descriptor >= 0, bound == 0 else { throw LineClientError(description: "cannot bind \(name)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread { [self] in read() }.start()
    }

    private func read() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !finished.load(ordering: .relaxed) {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 {
                let text = String(decoding: buffer[..<count], as: UTF8.self)
                received.withLock { $0.append(text) }
            }
        }
        close(descriptor)
        if let path { unlink(path) }
    }

    /// Stops the reader, which closes the socket.
    func finish() { finished.store(true, ordering: .relaxed) }

    /// Every datagram so far, in arrival order.
    var messages: [String] { received.withLock { $0 } }

    /// Waits up to `seconds` until `condition` holds for the datagrams received; whether it did.
    func wait(within seconds: Int, until condition: ([String]) -> Bool) -> Bool {
        for _ in 0..<(seconds * 10) {
            if condition(messages) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return condition(messages)
    }

    /// The first datagram that says READY=1, waiting up to `seconds`.
    func ready(within seconds: Int) -> String? {
        let isReady = { (text: String) in text.split(separator: "\n").contains("READY=1") }
        _ = wait(within: seconds) { $0.contains(where: isReady) }
        return messages.first(where: isReady)
    }
}

/// `enclave serve` on free ports over a fresh data directory, with the repository's configuration,
/// started through `launcher` (a program that execs the rest of its arguments) when given.
final class NotifiedServer {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-unit-\(UUID().uuidString)")
    let process = Process()
    var output: URL { directory.appendingPathComponent("serve.out") }

    var errors: URL { directory.appendingPathComponent("serve.err") }

    init(environment extra: [String: String], launcher: [String] = [], arguments: [String] = []) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let serve =
            [
                EnclaveBinary.url.path, "serve", "--listen", "127.0.0.1:0", "--data-dir", directory.path + "/data",
            ] + arguments
        process.executableURL = URL(fileURLWithPath: launcher.first ?? serve[0])
        process.arguments = Array((launcher + serve).dropFirst())
        process.currentDirectoryURL = EnclaveBinary.packageRoot
        var environment = ProcessInfo.processInfo.environment
        for name in ["ENCLAVE_CONFIG", "ENCLAVE_DATA_DIR", "ENCLAVE_LISTEN", "ENCLAVE_HEALTH_LISTEN"] {
            environment[name] = nil
        }
        process.environment = environment.merging(extra) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
    }

    var printed: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
    var logged: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

    /// Waits (up to 120 s) for the "listening" line; the chat port, or 0.
    func waitForPort() -> Int {
        for _ in 0..<1200 where port == 0 && process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        return port
    }

    /// The one-time admin password the first start printed.
    var adminPassword: String {
        printed.split(separator: "\n").first { $0.hasPrefix("    ") }?.trimmingCharacters(in: .whitespaces) ?? ""
    }

    /// The chat port from the "listening" line (0 before it).
    var port: Int {
        guard let range = printed.range(of: "listening on 127.0.0.1:") else { return 0 }
        return Int(printed[range.upperBound...].prefix(while: \.isNumber)) ?? 0
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A tool a test needs from the project's set-up: the test is skipped with a message, or fails where it
/// must run (`make test` sets ENCLAVE_TEST_DEPS=1 and installs it; CI sets CI).
func requiredTool(_ path: String, from origin: String) -> Bool {
    if FileManager.default.isExecutableFile(atPath: path) { return true }
    if TestSetUp.required {
        Issue.record("\(path) is missing; run `ENCLAVE_TEST_DEPS=1 deploy/install-deps.sh` (\(origin))")
    } else {
        print("skipped: \(path) is missing (\(origin); `make test` installs it)")
    }
    return false
}

@Suite struct ServiceUnitTests {
    /// Turns on PR_SET_MDWE (refuse memory that is, or becomes, writable and executable), says whether it
    /// took, and execs the rest of its arguments with it in force (it survives exec).
    static let mdweLauncher = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        taken = libc.prctl(65, 1, 0, 0, 0) == 0
        print("mdwe " + ("on" if taken else "unsupported"), flush=True)
        os.execv(sys.argv[1], sys.argv[1:])
        """

    @Test func serveSaysReadyOnlyOnceItAcceptsFeedsTheWatchdogAndRunsUnderMemoryDenyWriteExecute() throws {
        let notify = try NotifySocket(abstract: false)
        defer { notify.finish() }
        let server = try NotifiedServer(
            environment: ["NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "2000000"],
            launcher: ["/usr/bin/env", "python3", "-c", Self.mdweLauncher])
        defer { server.stop() }
        let ready = notify.ready(within: 120)
        #expect(ready?.contains("MAINPID=\(server.process.processIdentifier)") == true, "\(notify.messages)")
        // Ready means accepting: the chat port answers at once.
        let port = server.port
        #expect(port > 0, "\(server.printed)")
        let client = try ChatLoadClient(port: port, timeout: .seconds(300))
        #expect(client.readBanner())
        // The engine answers under MDWE (where the kernel has it): no writable and executable memory needed.
        if server.printed.contains("mdwe on") {
            #expect(client.exchange("/login admin \(server.adminPassword)").final?.hasPrefix("OK") == true)
            let reply = client.exchange("Name a colour.")
            #expect(reply.final?.hasPrefix("OK conversation=") == true, "\(reply.lines)")
        } else {
            print("ServiceUnitTests: this kernel has no PR_SET_MDWE; the engine ran without it")
        }
        // WATCHDOG_USEC of 2 s: a keep-alive every second, and nothing else besides READY.
        let pings = { (messages: [String]) in messages.filter { $0 == "WATCHDOG=1" }.count }
        let earlier = pings(notify.messages)
        #expect(notify.wait(within: 30) { pings($0) >= earlier + 2 }, "\(notify.messages)")
        #expect(notify.messages.allSatisfy { $0 == "WATCHDOG=1" || $0 == ready }, "\(notify.messages)")
        server.process.terminate()
        #expect(notify.wait(within: 60) { $0.last == "STOPPING=1" }, "\(notify.messages)")
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
    }

    @Test func anAbstractNotifySocketGetsReadyToo() throws {
        let notify = try NotifySocket(abstract: true)
        defer { notify.finish() }
        let server = try NotifiedServer(environment: ["NOTIFY_SOCKET": notify.name])
        defer { server.stop() }
        let ready = notify.ready(within: 120)
        #expect(ready != nil, "\(notify.messages) \(server.printed)")
        #expect(server.port > 0)
    }

    /// Runs `make -s` with `arguments` in the package root; its output is stdout and stderr together.
    static func make(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try EnclaveBinary.runProgram(URL(fileURLWithPath: "/usr/bin/env"), ["make", "-s"] + arguments)
        return (result.status, result.stdout + result.stderr)
    }

    /// A temporary root with `make install` run into it (the built binary standing in for the release).
    static func stagedInstall() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-root-\(UUID().uuidString)")
        let installed = try make(["install", "DESTDIR=\(root.path)", "BINARY=\(EnclaveBinary.url.path)"])
        #expect(installed.status == 0, "\(installed.output)")
        return root
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? -1
    }

    @Test func makeInstallStagesEveryFileWhereItBelongsAndKeepsTheOperatorsFiles() throws {
        let root = try Self.stagedInstall()
        defer { try? FileManager.default.removeItem(at: root) }
        let r = root.path
        let expected: [(String, Int)] = [
            ("/usr/local/bin/enclave", 0o755), ("/usr/local/lib/systemd/system/enclave.service", 0o644),
            ("/usr/local/lib/sysusers.d/enclave.conf", 0o644), ("/etc/enclave/enclave.yaml", 0o644),
            ("/etc/enclave/policies/20-rules.yaml", 0o644), ("/etc/enclave/prompts/assistant.v1.txt", 0o644),
            ("/usr/local/share/enclave/models/SmolLM2-135M-Instruct.Q4_1.gguf", 0o644), ("/var/lib/enclave", 0o700),
        ]
        for (path, mode) in expected { #expect(Self.mode(r + path) == mode, "\(path)") }
        let unit = try String(contentsOfFile: r + "/usr/local/lib/systemd/system/enclave.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/enclave serve --config /etc/enclave/enclave.yaml"))
        #expect(
            try String(contentsOfFile: r + "/usr/local/lib/sysusers.d/enclave.conf", encoding: .utf8)
                .contains("u enclave - "))

        // The installed configuration validates and points at the standard places.
        let config = r + "/etc/enclave/enclave.yaml"
        let check = try EnclaveBinary.run(["config", "check", "--config", config])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        let show = try EnclaveBinary.run(["config", "show", "--config", config])
        for row in [
            "data_dir\t/var/lib/enclave\tfile", "policies\t/etc/enclave/policies\tfile",
            "prompts\t/etc/enclave/prompts\tfile", "health_listen\t127.0.0.1:7879\tdefault",
            "initial_password_file\t/var/lib/enclave/first-admin-password\tfile",
        ] {
            #expect(show.stdout.contains(row), "\(row) in \(show.stdout)")
        }
        #expect(show.stdout.contains("/usr/local/share/enclave/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        let policies = try EnclaveBinary.run(["policy", "check", "--policies", r + "/etc/enclave/policies"])
        #expect(policies.status == 0, "\(policies.stdout) \(policies.stderr)")

        // A second install keeps the operator's edits; uninstall removes the program and keeps the rest.
        let edited = try String(contentsOfFile: config, encoding: .utf8) + "# the operator's edit\n"
        try edited.write(toFile: config, atomically: true, encoding: .utf8)
        _ = try Self.make(["install", "DESTDIR=\(r)", "BINARY=\(EnclaveBinary.url.path)"])
        #expect(try String(contentsOfFile: config, encoding: .utf8) == edited)
        let removed = try Self.make(["uninstall", "DESTDIR=\(r)"])
        #expect(removed.status == 0, "\(removed.output)")
        let manager = FileManager.default
        #expect(!manager.fileExists(atPath: r + "/usr/local/bin/enclave"))
        #expect(!manager.fileExists(atPath: r + "/usr/local/lib/systemd/system/enclave.service"))
        #expect(manager.fileExists(atPath: config) && manager.fileExists(atPath: r + "/var/lib/enclave"))
    }

    @Test func theInstalledUnitPassesSystemdAnalyzeWithALowExposure() throws {
        guard requiredTool("/usr/bin/systemd-analyze", from: "Debian's systemd") else { return }
        let root = try Self.stagedInstall()
        defer { try? FileManager.default.removeItem(at: root) }
        // verify checks that ExecStart is executable on this machine: point it at the staged binary.
        let installed = try String(
            contentsOfFile: root.path + "/usr/local/lib/systemd/system/enclave.service", encoding: .utf8)
        let unit = root.path + "/enclave.service"
        try installed.replacingOccurrences(of: "/usr/local/bin/enclave", with: root.path + "/usr/local/bin/enclave")
            .write(toFile: unit, atomically: true, encoding: .utf8)

        func analyze(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let result = try EnclaveBinary.runProgram(URL(fileURLWithPath: "/usr/bin/systemd-analyze"), arguments)
            return (result.status, result.stdout + result.stderr)
        }
        // verify exits 0 even for unknown keys, printing a warning: no output at all is the pass.
        let verified = try analyze(["verify", unit])
        #expect(verified.status == 0 && verified.output.isEmpty, "\(verified.output)")
        let security = try analyze(["security", "--offline=yes", unit])
        let level = security.output.components(separatedBy: "Overall exposure level for enclave.service: ").last?
            .split(separator: " ").first.flatMap { Double($0) }
        #expect(level != nil && level! <= 2.0, "\(security.output.suffix(300))")
        for setting in ["NoNewPrivileges=", "PrivateTmp=", "ProtectHome=", "MemoryDenyWriteExecute=", "ProtectSystem="]
        {
            #expect(security.output.contains("✓ \(setting)"), "\(setting)")
        }
    }

    @Test func theLogIsOneLinePerEventAsJSONOrForTheJournalAndHoldsNoMessageText() throws {
        let marker = "quartzzebra"
        let json = try NotifiedServer(environment: [:], arguments: ["--log-format", "json"])
        defer { json.stop() }
        let journal = try NotifiedServer(environment: ["JOURNAL_STREAM": "8:4242"])
        defer { journal.stop() }
        for server in [json, journal] {
            let port = server.waitForPort()
            #expect(port > 0, "\(server.printed)")
            let client = try ChatLoadClient(port: port, timeout: .seconds(300))
            #expect(client.readBanner())
            #expect(client.exchange("/login admin wrong-\(marker)").final?.hasPrefix("ERR") == true)
            #expect(client.exchange("/login admin \(server.adminPassword)").final?.hasPrefix("OK") == true)
            #expect(client.exchange("Name a colour, \(marker).").final?.hasPrefix("OK conversation=") == true)
            server.process.terminate()
            server.process.waitUntilExit()
            #expect(!server.logged.contains(marker))
        }
        // JSON: every line one object with the fixed fields; the login among the events.
        let objects = json.logged.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        #expect(objects.count >= 3 && objects.allSatisfy { $0 != nil }, "\(json.logged)")
        for object in objects.compactMap({ $0 }) {
            #expect(Set(object.keys) == ["time", "level", "logger", "message", "metadata"], "\(object)")
        }
        #expect(objects.contains { $0?["message"] as? String == "session.login" }, "\(json.logged)")
        // For the journal: the syslog priority first, no time of its own, one event per line.
        let lines = journal.logged.split(separator: "\n")
        #expect(lines.count >= 3, "\(journal.logged)")
        for line in lines {
            #expect(
                line.wholeMatch(of: /<[2-7]>(critical|error|warning|notice|info|debug|trace) [a-z.]+: .*/) != nil,
                "\(line)")
        }
        #expect(lines.contains { $0.hasPrefix("<6>info enclave.serve: session.login") }, "\(journal.logged)")
    }
}
