// Hostile clients over real sockets: over-long lines without a newline (1 MiB, 100 MiB), many idle
// connections and a client that floods lines and never reads (a million random and mutated lines are
// in FuzzLinesTests.swift). After each, a well-behaved client must still be served, and the process's memory must stay bounded
// (RSS is printed before and after).
import ChatCore
import EnclaveTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import ChatServer

/// Serialized: each test bounds the growth of this process's RSS, which another test allocating a 100 MiB
/// line at the same time would inflate.
@Suite(.serialized) struct AbuseTests {
    /// A client that logs in and gets an answer: the server is still serving others.
    private func stillServes(_ server: TestServer) async throws {
        try await server.client { client in
            try await client.login("bob", "bob-password-1")
            #expect(try await client.final("/whoami") == "OK user=bob role=staff groups=-")
        }
    }

    private func megabytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    @Test(arguments: [1 << 20, 100 << 20])
    func hugeLinesWithoutNewlineAreCutOff(size: Int) async throws {
        try await TestServer.with { server in
            let before = ProcessMemory.residentBytes()
            try await server.client { client in
                let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
                // The server closes after the first KiB, so later writes may fail: that is the point.
                do {
                    for _ in 0..<(size >> 20) { try await client.sendRaw(chunk) }
                } catch {}
                let refusal = try await client.readLine()
                #expect(refusal?.hasPrefix("ERR line-too-long") == true)
            }
            try await stillServes(server)
            let after = ProcessMemory.residentBytes()
            print("abuse: \(size >> 20) MiB line: RSS \(megabytes(before)) -> \(megabytes(after))")
            #expect(after - before < 64 << 20)
        }
    }

    @Test func aThousandIdleConnections() async throws {
        try await TestServer.with(configure: { $0.maxConnectionsPerAddress = 2000 }) { server in
            let before = ProcessMemory.residentBytes()
            var channels: [any Channel] = []
            for _ in 0..<1000 {
                channels.append(
                    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connect(host: "127.0.0.1", port: server.server.port).get())
            }
            try await stillServes(server)
            let after = ProcessMemory.residentBytes()
            print(
                "abuse: 1000 idle connections: RSS \(megabytes(before)) -> \(megabytes(after)), "
                    + "\((after - before) / 1000) bytes each (client and server sides)")
            for channel in channels { try? await channel.close() }
            #expect(after - before < 200 << 20)
        }
    }

    @Test func aClientThatFloodsAndNeverReadsIsDisconnected() async throws {
        try await TestServer.with(configure: { $0.stallTimeout = .milliseconds(500) }) { server in
            let before = ProcessMemory.residentBytes()
            let channel = try await AsyncLineClient.connect(port: server.server.port, receiveBuffer: 4096)
            try await channel.executeThenClose { _, outbound in
                // 100,000 /help lines, each answered with several lines the client never reads.
                let batch = ByteBuffer(string: String(repeating: "/help\n", count: 1000))
                do {
                    for _ in 0..<100 { try await outbound.write(batch) }
                } catch {}
                // Meanwhile others are served.
                try await stillServes(server)
                // The server drops the flooder once its output has been blocked for the stall timeout.
                try await waitUntil { server.server.connectionCount == 0 }
            }
            let after = ProcessMemory.residentBytes()
            print("abuse: flood of 100,000 lines never read: RSS \(megabytes(before)) -> \(megabytes(after))")
            #expect(after - before < 64 << 20)
        }
    }
}

/// Polls `condition` every 20 ms for up to 30 s.
func waitUntil(_ condition: () -> Bool) async throws {
    for _ in 0..<1500 {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition not met within 30 s")
}
