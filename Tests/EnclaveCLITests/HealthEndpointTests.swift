// The health listener of a real `enclave serve` (started from the shipped files): `/metrics` scraped while
// clients chat through the chat port, each scrape read by the reference parser of the Prometheus text
// format (PyPI's prometheus-client, in the test venv that `make test` makes through deploy/install-deps.sh),
// with the counts checked against what the clients saw on the line protocol; and `/readyz` turning unready,
// naming the check, when the audit directory stops taking files (replaced by a plain file: permission bits
// stop nobody running as root, as CI does) or a policy file breaks, and ready again when each is repaired.
import EnclaveClient
import Foundation
import Testing

/// The reference parser, where `make test` puts it.
enum PrometheusParser {
    static var python: String {
        let cache =
            ProcessInfo.processInfo.environment["ENCLAVE_CACHE_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "cache"
        return (cache.hasPrefix("/") ? cache : EnclaveBinary.packageRoot.path + "/" + cache) + "/test-venv/bin/python"
    }

    struct Sample: Decodable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Family: Decodable {
        var name: String
        var type: String
        var samples: [Sample]
    }

    static let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for text in json.load(sys.stdin):
            out.append([{"name": f.name, "type": f.type,
                         "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
                        for f in text_string_to_metric_families(text)])
        json.dump(out, sys.stdout)
        """

    /// Parses every text with prometheus-client; throws when it rejects one.
    static func parse(_ texts: [String], python: String) throws -> [[Family]] {
        let result = try EnclaveBinary.runProgram(
            URL(fileURLWithPath: python), ["-c", script], stdin: try JSONEncoder().encode(texts))
        guard result.status == 0 else {
            throw LineClientError(description: "prometheus-client rejected the text: \(result.stderr)")
        }
        return try JSONDecoder().decode([[Family]].self, from: Data(result.stdout.utf8))
    }
}

/// An HTTP GET over a plain socket (one request, `Connection: close`).
func httpGet(_ path: String, port: Int) throws -> (status: Int, body: String) {
    let client = try LineClient(port: port, timeout: .seconds(60))
    try client.sendRaw(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
    let text = String(decoding: client.readToEnd(), as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "")
    else { throw LineClientError(description: "not an HTTP answer: \(text)") }
    return (status, String(text[split.upperBound...]))
}

extension ShippedCopy {
    /// The health listener's port, from the "listening" line.
    var healthPort: Int {
        guard let range = printed.range(of: "health on 127.0.0.1:") else { return 0 }
        return Int(printed[range.upperBound...].prefix(while: \.isNumber)) ?? 0
    }

    /// Polls `/readyz` (up to `seconds`) until its status is `status`; the last answer.
    func readiness(until status: Int, seconds: Int = 60) throws -> (status: Int, body: String) {
        var answer = try httpGet("/readyz", port: healthPort)
        for _ in 0..<(seconds * 5) where answer.status != status {
            Thread.sleep(forTimeInterval: 0.2)
            answer = try httpGet("/readyz", port: healthPort)
        }
        return answer
    }
}

@Suite struct HealthEndpointTests {
    /// A word no reply or metric would hold by chance: it must never appear in /metrics.
    static let marker = "quartzzebra"

    @Test func metricsScrapedWhileClientsChatParseAndCountWhatTheClientsSaw() throws {
        let python = PrometheusParser.python
        guard requiredTool(python, from: "the test venv with PyPI's prometheus-client") else { return }
        // Short replies, and an external provider (never called: a card to it is refused by the policy).
        let external = """
              - {name: external-gpt, kind: openai, residency: external, base_url: "http://127.0.0.1:9/v1", model: gpt-test}

            routing:
            """
        let shipped = try ShippedCopy { text in
            text.replacingOccurrences(of: "max_tokens: 256", with: "max_tokens: 24")
                .replacingOccurrences(of: "\nrouting:", with: "\n" + external)
        }
        defer { shipped.stop() }
        let users = (1...3).map { "nurse-metrics-\($0)" }
        for user in users {
            let added = try EnclaveBinary.run(
                ["users", "add", user, "--role", "staff", "--permanent"], stdin: "nurse-password-1\n",
                in: shipped.directory)
            #expect(added.status == 0, "\(added.stderr)")
        }
        try shipped.start()
        let port = shipped.healthPort
        #expect(port > 0, "\(shipped.printed)")
        #expect(try httpGet("/healthz", port: port).status == 200)

        // Three clients log in (one after a wrong password) and wait at a barrier, so the first scrape sees
        // three open connections; then each sends one message while /metrics is scraped.
        let loggedIn = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let replies = Shared<[ChatLoadClient.Reply]>([])
        let problems = Shared<[String]>([])
        let chatPort = shipped.port
        let chatting = Thread {
            onThreads(users.count) { index in
                // The main thread waits for one signal per client: at login, or when it gave up before.
                var waiting = true
                defer { if waiting { loggedIn.signal() } }
                guard let client = try? ChatLoadClient(port: chatPort), client.readBanner() else {
                    problems.withLock { $0.append("client \(index): no connection") }
                    return
                }
                if index == 0, client.exchange("/login \(users[0]) wrong").final?.hasPrefix("ERR auth-failed") != true {
                    problems.withLock { $0.append("the wrong password was not refused") }
                }
                guard client.exchange("/login \(users[index]) nurse-password-1").final?.hasPrefix("OK") == true else {
                    problems.withLock { $0.append("client \(index): login failed") }
                    return
                }
                waiting = false
                loggedIn.signal()
                go.wait()
                let reply = client.exchange("Name a colour, \(Self.marker).")
                replies.withLock { $0.append(reply) }
                client.send("/quit")
            }
        }
        chatting.start()
        for _ in users { loggedIn.wait() }
        var scrapes = [try httpGet("/metrics", port: port).body]
        for _ in users { go.signal() }
        // Scrapes during the load, until every client has its final line (or gave up).
        for _ in 0..<6000 where replies.value.count + problems.value.count < users.count {
            scrapes.append(try httpGet("/metrics", port: port).body)
            Thread.sleep(forTimeInterval: 0.1)
        }
        scrapes.append(try httpGet("/metrics", port: port).body)
        #expect(problems.value.isEmpty, "\(problems.value)")
        // A card for the external provider: refused, naming the rule that refused it.
        let blocked = try ChatLoadClient(port: shipped.port)
        #expect(blocked.readBanner())
        #expect(blocked.exchange("/login \(users[0]) nurse-password-1").final?.hasPrefix("OK") == true)
        let passwd = blocked.exchange("/passwd not-the-password another-password-2").final ?? ""
        #expect(passwd.hasPrefix("ERR auth-failed"), "\(passwd)")
        #expect(blocked.exchange("/model external-gpt").final?.hasPrefix("OK") == true)
        let refusal = blocked.exchange("Card 4111 1111 1111 1111, \(Self.marker).").final ?? ""
        #expect(refusal.hasPrefix("ERR policy-blocked rule="), "\(refusal)")
        let blockingRule = String(refusal.dropFirst("ERR policy-blocked rule=".count).prefix { $0 != " " })
        blocked.send("/quit")
        scrapes.append(try httpGet("/metrics", port: port).body)
        #expect(scrapes.count >= 3, "no scrape while the clients chatted")

        let parsed = try PrometheusParser.parse(scrapes, python: python)
        #expect(parsed.count == scrapes.count)
        let seen = replies.value
        let oks = seen.compactMap(\.final).filter { $0.hasPrefix("OK conversation=") }
        #expect(oks.count == 3, "\(seen.map(\.lines))")
        // The rule each decision was made by, as the clients' notices named it.
        let rules = seen.compactMap { reply in
            reply.lines.first { $0.hasPrefix("* provider=") }?.split(separator: " ").first { $0.hasPrefix("rule=") }
        }.map { String($0.dropFirst(5)) }
        let tokens = oks.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("tokens=") }.flatMap { Int($0.dropFirst(7)) }
        }

        func samples(_ scrape: [PrometheusParser.Family], _ name: String) -> [PrometheusParser.Sample] {
            scrape.flatMap(\.samples).filter { $0.name == name }
        }
        func value(_ scrape: [PrometheusParser.Family], _ name: String, _ labels: [String: String] = [:]) -> Double {
            samples(scrape, name).filter { sample in labels.allSatisfy { sample.labels[$0.key] == $0.value } }
                .reduce(0) { $0 + $1.value }
        }
        // At the barrier: three connections open, one failed login, no message yet.
        let first = parsed[0]
        #expect(value(first, "enclave_connections") == 3)
        #expect(value(first, "enclave_failed_logins_total", ["outcome": "failed"]) == 1)
        #expect(value(first, "enclave_messages_total") == 0)
        // Counters never go down from one scrape to the next.
        for (earlier, later) in zip(parsed, parsed.dropFirst()) {
            for name in ["enclave_messages_total", "enclave_tokens_out_total", "enclave_audit_write_seconds_count"] {
                #expect(value(later, name) >= value(earlier, name), "\(name)")
            }
        }
        let last = parsed[parsed.count - 1]
        // One family per name (a counter `x_total` is family `x`, so it may not share its name with a gauge).
        #expect(Set(last.map(\.name)).count == last.count, "\(last.map(\.name).sorted())")
        let types = Dictionary(last.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        #expect(types["enclave_messages"] == "counter" && types["enclave_ttft_seconds"] == "histogram")
        #expect(types["enclave_connections"] == "gauge" && types["enclave_kv_cache_bytes"] == "gauge")
        #expect(value(last, "enclave_messages_total", ["outcome": "ok"]) == 3)
        #expect(value(last, "enclave_messages_total", ["outcome": "policy-blocked"]) == 1)
        #expect(value(last, "enclave_failed_logins_total", ["outcome": "passwd"]) == 1)
        #expect(value(last, "enclave_blocks_total") == 1)
        #expect(value(last, "enclave_blocks_total", ["rule": blockingRule]) == 1, "\(blockingRule)")
        #expect(value(last, "enclave_tokens_out_total", ["provider": "local"]) == Double(tokens.reduce(0, +)))
        #expect(value(last, "enclave_tokens_in_total", ["provider": "local"]) > 0)
        #expect(value(last, "enclave_ttft_seconds_count", ["provider": "local"]) == 3)
        #expect(value(last, "enclave_reply_seconds_count", ["provider": "local"]) == 3)
        #expect(value(last, "enclave_ttft_seconds_sum") <= value(last, "enclave_reply_seconds_sum"))
        // Each histogram's buckets are cumulative and end at its count.
        for name in ["enclave_ttft_seconds", "enclave_reply_seconds", "enclave_audit_write_seconds"] {
            let buckets = samples(last, name + "_bucket").sorted {
                (Double($0.labels["le"] ?? "") ?? .infinity) < (Double($1.labels["le"] ?? "") ?? .infinity)
            }
            #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.value <= $1.value }, "\(name)")
            #expect(buckets.last?.value == value(last, name + "_count"), "\(name)")
        }
        #expect(rules.count == 3)
        for rule in Set(rules) {
            #expect(
                value(last, "enclave_decisions_total", ["rule": rule, "outcome": "allowed"])
                    == Double(rules.filter { $0 == rule }.count))
        }
        #expect(value(last, "enclave_decisions_total") == 4)
        #expect(value(last, "enclave_audit_write_seconds_count") >= 1)
        #expect(value(last, "enclave_kv_cache_bytes") > 0)
        #expect(value(last, "enclave_integrity_failures_total") == 0)
        // No metric carries a user name or a word of a message.
        for scrape in scrapes {
            #expect(!scrape.contains(Self.marker) && !scrape.contains("nurse-metrics"))
        }

        // `enclave status` reads the same endpoints and says so on a terminal.
        let status = try EnclaveBinary.run(["status", "--health-listen", "127.0.0.1:\(port)"], in: shipped.directory)
        #expect(status.status == 0, "\(status.stdout) \(status.stderr)")
        #expect(status.stdout.contains("ready\n") && status.stdout.contains("ok audit"), "\(status.stdout)")
        #expect(status.stdout.contains("messages             ok 3"), "\(status.stdout)")
        #expect(status.stdout.contains("failed logins        failed 1"), "\(status.stdout)")
    }

    @Test func readyzNamesTheAuditDirectoryOrPolicyThatFailsAndRecovers() throws {
        let shipped = try ShippedCopy()
        defer { shipped.stop() }
        try shipped.start()
        let port = shipped.healthPort
        let ready = try shipped.readiness(until: 200)
        #expect(ready.status == 200 && ready.body.hasPrefix("ready\n"), "\(ready.body)")
        for check in ["models", "database", "audit", "policy"] { #expect(ready.body.contains("ok \(check)\n")) }

        // The audit directory replaced by a file: no record could be written there.
        let manager = FileManager.default
        let audit = shipped.directory.appendingPathComponent("data/audit")
        let moved = shipped.directory.appendingPathComponent("data/audit.moved")
        try manager.moveItem(at: audit, to: moved)
        try Data("not a directory".utf8).write(to: audit)
        let broken = try shipped.readiness(until: 503)
        #expect(broken.status == 503, "\(broken.body)")
        #expect(broken.body.hasPrefix("not ready\n") && broken.body.contains("fail audit: "), "\(broken.body)")
        #expect(broken.body.contains("ok database") && broken.body.contains("ok policy"), "\(broken.body)")
        let status = try EnclaveBinary.run(["status", "--health-listen", "127.0.0.1:\(port)"], in: shipped.directory)
        #expect(status.status == 1 && status.stdout.contains("fail audit"), "\(status.stdout)")
        try manager.removeItem(at: audit)
        try manager.moveItem(at: moved, to: audit)
        let repaired = try shipped.readiness(until: 200)
        #expect(repaired.status == 200 && repaired.body.contains("ok audit"), "\(repaired.body)")

        // A policy file that does not load (the reloader polls the directory each second).
        let bad = shipped.directory.appendingPathComponent("policies/zz-broken.yaml")
        try Data("rules: [unclosed\n".utf8).write(to: bad)
        let unready = try shipped.readiness(until: 503)
        #expect(unready.status == 503 && unready.body.contains("fail policy: "), "\(unready.body)")
        try manager.removeItem(at: bad)
        let again = try shipped.readiness(until: 200)
        #expect(again.status == 200 && again.body.contains("ok policy"), "\(again.body)")
        #expect(try httpGet("/nowhere", port: port).status == 404)
    }

    @Test func aNonLoopbackHealthAddressWithoutTLSIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let refused = try EnclaveBinary.run(
            ["serve", "--listen", "127.0.0.1:0", "--health-listen", "0.0.0.0:0"], in: directory)
        #expect(refused.status != 0)
        #expect(
            refused.stderr.contains("refusing to serve /metrics and /readyz on 0.0.0.0 without TLS"),
            "\(refused.stderr)")
        #expect(!refused.stdout.contains("listening"))
    }

    @Test func overTLSStatusReadsTheHealthListenerTrustingTheConfiguredCertificate() throws {
        guard requiredTool("/usr/bin/openssl", from: "Debian's openssl") else { return }
        let shipped = try ShippedCopy { text in
            text.replacingOccurrences(of: "# tls_cert: /etc/enclave/server.pem", with: "tls_cert: cert.pem")
                .replacingOccurrences(of: "# tls_key: /etc/enclave/server.key", with: "tls_key: key.pem")
                .replacingOccurrences(of: "  tls: false ", with: "  tls: true ")
        }
        defer { shipped.stop() }
        let made = try EnclaveBinary.runProgram(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "key.pem",
                "-out", "cert.pem",
            ], in: shipped.directory.appendingPathComponent("deploy"))
        try #require(made.status == 0, "\(made.stderr)")
        try shipped.start()
        let port = shipped.healthPort
        #expect(port > 0, "\(shipped.printed)")
        // `enclave status` reads it over TLS, trusting the configured certificate.
        let status = try EnclaveBinary.run(
            ["status", "--health-listen", "127.0.0.1:\(port)"], in: shipped.directory)
        #expect(status.status == 0 && status.stdout.contains("https://127.0.0.1:\(port)"), "\(status.stdout)")
        #expect(status.stdout.contains("  ready\n"), "\(status.stdout)")
        // Plain HTTP gets no answer.
        let plain = try? httpGet("/readyz", port: port)
        #expect(plain == nil || plain?.status != 200)
    }
}
