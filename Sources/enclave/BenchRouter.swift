// `enclave bench router`: what routing costs per message. Two figures:
//   1. policy decision + breaker look-up + route plan per message (µs, p50/p99) over random tags and
//      `/model` choices;
//   2. time to first token through the OpenAI-compatible provider against a loopback SSE server,
//      versus a direct HTTP request over a plain socket to the same server, in the same run.
// The loopback server here is a minimal blocking one (a thread, POSIX sockets): it answers every
// request with a short SSE stream and closes, so both paths pay one TCP connect per request.
import ArgumentParser
import Foundation
import Inference
import Policy
import Routing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Holds `router` until it joins the shared `bench` group (`Bench` in BenchModel.swift, owned by the
/// engine; the server branch has one too): then `enclave bench router`. Here: `enclave bench-routing router`.
struct BenchRouter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router",
        abstract: "Routing overhead per message and time to first token through the HTTP provider.")

    @Option(help: "Policy directory.") var policies = "policies"
    @Option(help: "Messages to route for the decision figure.") var messages = 20_000
    @Option(help: "Requests for the time-to-first-token figure.") var requests = 200

    func run() async throws {
        let policy = try PolicySet.load(directory: policies)
        try measureRouting(policy: policy)
        try await measureFirstToken()
    }

    private func measureRouting(policy: PolicySet) throws {
        let providers = [
            ProviderInfo(name: "local", residency: .onPrem, model: "local"),
            ProviderInfo(name: "vpc-llama", residency: .vpc, model: "vpc"),
            ProviderInfo(name: "external-gpt", residency: .external, model: "ext"),
        ]
        let canary = CanaryConfiguration(provider: "vpc-llama", percent: 5, key: Array("bench canary key".utf8))
        let router = Router(providers: providers, defaultProvider: "local", canary: canary)
        // The circuit breakers are consulted on every message, as ProviderGateway does.
        let health = ProviderHealth()
        health.record("vpc-llama", errorCode: "provider-down")
        let tagPool = ["pii", "phi", "financial", "confidential"]
        var random = SeededGenerator(seed: 1)  // the same requests in every run, so runs compare
        var samples: [Double] = []
        samples.reserveCapacity(messages)
        let clock = ContinuousClock()
        var blocked = 0
        for index in 0..<messages {
            let tags = Set(tagPool.filter { _ in random.next() % 5 == 0 })
            let requested: String? = random.next() % 10 == 0 ? "external-gpt" : nil
            let start = clock.now
            let decision = evaluate(
                policy,
                DecisionRequest(
                    tags: tags, user: "ann", groups: ["staff"], requestedProvider: requested,
                    providers: router.descriptors))
            do {
                _ = try router.plan(
                    RouteRequest(
                        conversation: "conversation-\(index % 500)", user: "ann", groups: ["staff"],
                        requestedProvider: requested),
                    decision: decision, unavailable: health.unavailable())
            } catch {
                blocked += 1
            }
            samples.append(microseconds(clock.now - start))
        }
        print("router+policy per message: \(summary(samples)) µs over \(messages) messages (\(blocked) refused)")
    }

    private func measureFirstToken() async throws {
        let server = try LoopbackSSEServer()
        defer { server.stop() }
        let provider = try OpenAIProvider(
            info: ProviderInfo(name: "bench", residency: .vpc, model: "bench"),
            settings: OpenAIProviderSettings(baseURL: "http://127.0.0.1:\(server.port)/v1", retries: 0))
        let request = ChatRequest(
            messages: [ChatTurn(role: .user, content: "hello")],
            maxTokens: 8)
        let clock = ContinuousClock()
        var viaProvider: [Double] = []
        var direct: [Double] = []
        for _ in 0..<requests {
            let start = clock.now
            for try await event in provider.stream(request) {
                if case .text = event {
                    viaProvider.append(microseconds(clock.now - start))
                    break
                }
            }
            let directStart = clock.now
            try server.directFirstToken()
            direct.append(microseconds(clock.now - directStart))
        }
        await provider.shutdown()
        print("time to first token via OpenAIProvider: \(summary(viaProvider)) µs")
        print("time to first token, direct HTTP:       \(summary(direct)) µs (same server, \(requests) requests each)")
    }

    private func microseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
    }

    private func summary(_ samples: [Double]) -> String {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return "n/a" }
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        return String(format: "p50 %.1f, p99 %.1f", at(0.5), at(0.99))
    }
}

/// A minimal SSE server on 127.0.0.1: one thread, one connection at a time, `Connection: close`.
private final class LoopbackSSEServer: Sendable {
    let port: Int
    private let listener: Int32

    static let response: [UInt8] = {
        let chunk = #"data: {"model":"bench","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#
        let end = #"data: {"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#
        let body = "\(chunk)\n\n\(end)\n\ndata: [DONE]\n\n"
        return Array(
            ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n" + body).utf8)
    }()

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw CLIError("socket") }
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 64) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else { throw CLIError("bind") }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                Self.serve(connection)
            }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Reads one request (head and Content-Length body), answers, closes.
    private static func serve(_ connection: Int32) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = read(connection, &buffer, buffer.count)
            if count <= 0 { break }
            received += buffer[..<count]
            if let text = String(bytes: received, encoding: .utf8), let headEnd = text.range(of: "\r\n\r\n") {
                let head = text[..<headEnd.lowerBound].lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: headEnd.upperBound) >= length {
                    break
                }
            }
        }
        _ = response.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
        close(connection)
    }

    /// The baseline: a plain socket request, timed until the first content chunk arrives.
    func directFirstToken() throws {
        let connection = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard connection >= 0 else { throw CLIError("socket") }
        defer { close(connection) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(connection, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw CLIError("connect") }
        let body = #"{"model":"bench","stream":true,"messages":[{"role":"user","content":"hello"}]}"#
        let request =
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        _ = Array(request.utf8).withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { throw CLIError("no content before close") }
            received += buffer[..<count]
            if String(decoding: received, as: UTF8.self).contains("\"content\":\"Hi\"") { return }
        }
    }
}
