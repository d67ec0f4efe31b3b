// `enclave status`: what the health listener says, on a terminal. It reads the running server's `/readyz`
// and `/metrics` (the same endpoints a supervisor and Prometheus read, so the two views never differ) at
// the address the configuration resolves, and prints readiness with each check, then the metrics an
// operator looks at first, summed over their labels where that is what one wants to know. Exit status:
// 0 ready, 1 not ready, 2 unreachable. Over TLS the configured certificate is the only trusted root.
import ArgumentParser
import AsyncHTTPClient
import ChatServer
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show a running server's readiness and metrics (its health listener).")

    @OptionGroup var options: ConfigOptions
    @Option(help: "The health listener, HOST:PORT (default: as `serve` resolves it).") var healthListen: String?
    @Flag(help: "Print the /metrics text as served instead of the summary.") var metrics = false

    func run() async throws {
        var flags = options.flags
        flags.healthListen = healthListen
        let settings = try Settings.resolve(flags)
        guard let listener = settings.health else {
            throw ValidationError("the health listener is off (health.listen: off); nothing to ask")
        }
        let base = (listener.tls == nil ? "http" : "https") + "://\(listener.host):\(listener.port)"
        var configuration = HTTPClient.Configuration()
        if let tls = listener.tls {
            var client = TLSConfiguration.makeClientConfiguration()
            client.trustRoots = .file(tls.certificatePath)
            client.certificateVerification = .noHostnameVerification
            configuration.tlsConfiguration = client
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { _ = http.shutdown() }
        let ready: (status: UInt, body: String)
        let text: String
        do {
            ready = try await Self.get(http, base + "/readyz")
            text = try await Self.get(http, base + "/metrics").body
        } catch {
            print("enclave status: nothing answers at \(base) (\(error)); is `enclave serve` running?")
            throw ExitCode(2)
        }
        if metrics {
            print(text, terminator: "")
        } else {
            print("health listener \(base)")
            for line in ready.body.split(separator: "\n") { print("  " + line) }
            print(StatusReport(samples: MetricSample.parse(text)).lines.joined(separator: "\n"))
        }
        if ready.status != 200 { throw ExitCode(1) }
    }

    private static func get(_ http: HTTPClient, _ url: String) async throws -> (status: UInt, body: String) {
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (response.status.code, String(buffer: body))
    }
}

/// One sample line of the Prometheus text format: name, labels, value.
struct MetricSample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double

    /// The samples of `text` (comments and malformed lines are skipped; label values unescaped).
    static func parse(_ text: String) -> [MetricSample] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "),
                let value = Double(line[line.index(after: space)...])
            else { return nil }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else {
                return MetricSample(name: String(series), labels: [:], value: value)
            }
            return MetricSample(
                name: String(series[..<brace]), labels: labels(series[series.index(after: brace)...].dropLast()),
                value: value)
        }
    }

    /// `a="x",b="y"` → ["a": "x", "b": "y"], with `\\`, `\"` and `\n` unescaped.
    private static func labels(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var rest = text[...]
        while let equals = rest.firstIndex(of: "=") {
            let name = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            var value = ""
            var index = rest.index(equals, offsetBy: 2, limitedBy: rest.endIndex) ?? rest.endIndex
            while index < rest.endIndex, rest[index] != "\"" {
                if rest[index] == "\\", rest.index(after: index) < rest.endIndex {
                    index = rest.index(after: index)
                    value.append(rest[index] == "n" ? "\n" : rest[index])
                } else {
                    value.append(rest[index])
                }
                index = rest.index(after: index)
            }
            result[name] = value
            rest = index < rest.endIndex ? rest[rest.index(after: index)...] : ""
        }
        return result
    }
}

/// The summary `enclave status` prints from the samples.
struct StatusReport {
    let samples: [MetricSample]

    /// The sum of `name`'s samples whose labels include `match`.
    func sum(_ name: String, _ match: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && match.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }

    /// `name`'s sums by the values of `label`, as `value n, value n`.
    func breakdown(_ name: String, by label: String) -> String {
        var sums: [String: Double] = [:]
        for sample in samples where sample.name == name {
            sums[sample.labels[label] ?? "-", default: 0] += sample.value
        }
        return sums.isEmpty
            ? "none" : sums.keys.sorted().map { "\($0) \(Self.number(sums[$0]!))" }.joined(separator: ", ")
    }

    /// A histogram's mean in milliseconds, per value of `label`.
    func meanMilliseconds(_ name: String, by label: String) -> String {
        let groups = Set(samples.filter { $0.name == name + "_count" }.compactMap { $0.labels[label] })
        guard !groups.isEmpty else { return "none yet" }
        return groups.sorted().map { group in
            let count = sum(name + "_count", [label: group])
            let mean = count > 0 ? sum(name + "_sum", [label: group]) / count * 1000 : 0
            return "\(group) \(Self.number(mean)) ms (\(Self.number(count)))"
        }.joined(separator: ", ")
    }

    var lines: [String] {
        let auditCount = sum("enclave_audit_write_seconds_count")
        let auditMean = auditCount > 0 ? sum("enclave_audit_write_seconds_sum") / auditCount * 1000 : 0
        let rows: [(String, String)] = [
            ("messages", breakdown("enclave_messages_total", by: "outcome")),
            ("tokens in", breakdown("enclave_tokens_in_total", by: "provider")),
            ("tokens out", breakdown("enclave_tokens_out_total", by: "provider")),
            ("time to first token", meanMilliseconds("enclave_ttft_seconds", by: "provider")),
            ("reply latency", meanMilliseconds("enclave_reply_seconds", by: "provider")),
            ("decisions", breakdown("enclave_decisions_total", by: "rule")),
            ("blocks", breakdown("enclave_blocks_total", by: "rule")),
            ("integrity failures", Self.number(sum("enclave_integrity_failures_total"))),
            ("audit writes", "\(Self.number(auditCount)), mean \(Self.number(auditMean)) ms"),
            ("KV cache", "\(Self.number(sum("enclave_kv_cache_bytes") / 1_048_576)) MiB kept"),
            ("connections", "\(Self.number(sum("enclave_connections"))) open"),
            ("failed logins", breakdown("enclave_failed_logins_total", by: "outcome")),
        ]
        return rows.map { $0.0.padding(toLength: 21, withPad: " ", startingAt: 0) + $0.1 }
    }

    /// A whole number as such, anything else with up to two decimals.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.2f", value)
    }
}
