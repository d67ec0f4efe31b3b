// Graceful shutdown during streaming: every client with a reply in progress gets the shutdown notice
// and a final line, idle clients get the notice and are closed, and every acknowledged message (the
// user's, and the reply as far as it got) is in storage.
import ChatCore
import ChatCoreTestSupport
import Foundation
import Logging
import Routing
import Storage
import Synchronization
import Testing

@testable import ChatServer

/// A provider that streams one word every 10 ms for a long time (until cancelled or cut short).
let slowGateway = TestProvider.paced(name: "slow", words: 3000, pause: .milliseconds(10), pauseFirst: false).gateway

@Suite struct ShutdownTests {
    @Test func shutdownDuringTenStreamingRepliesEndsEachWithAFinalLine() async throws {
        let users = (0..<10).map {
            UserRecord(name: "user\($0)", role: .staff, groups: [], passwordHash: "test:password-\($0)-long")
        }
        let backends = try await TestBackends(users: users + [TestServer.users[0]])
        let core = ChatCore(
            store: backends.store, passwords: TestPasswords(), policy: try await backends.policy(),
            gateway: slowGateway,
            audit: backends.audit, configuration: ChatCore.Configuration())
        var configuration = ServerConfiguration()
        configuration.port = 0
        let server = try await ChatServer(
            configuration: configuration, core: core, version: "test", logger: .init(label: "test"))
        let streaming = Counter()
        try await withThrowingTaskGroup { group in
            group.addTask { try await server.run() }
            let finals = try await withThrowingTaskGroup(of: [String].self) { clients in
                for index in 0..<10 {
                    clients.addTask {
                        try await AsyncLineClient.with(port: server.port) { client in
                            try await client.login("user\(index)", "password-\(index)-long")
                            try await client.send("please stream")
                            // Wait until the reply is routed (streaming starts), then read to the end.
                            _ = try await client.readUntil { !$0.hasPrefix("* provider=") }
                            streaming.increment()
                            var tail: [String] = []
                            while let line = try? await client.readLine() { tail.append(line) }
                            return tail
                        }
                    }
                }
                // An idle logged-in client, too.
                clients.addTask {
                    try await AsyncLineClient.with(port: server.port) { client in
                        try await client.login("alice", "alice-password")
                        streaming.increment()
                        var tail: [String] = []
                        while let line = try? await client.readLine() { tail.append(line) }
                        return tail
                    }
                }
                // Every reply is streaming (and the idle client is logged in).
                try await waitUntil { streaming.value == 11 }
                server.beginShutdown()
                var all: [[String]] = []
                for try await tail in clients { all.append(tail) }
                return all
            }
            try await group.waitForAll()
            let streaming = finals.filter { $0.contains { $0.hasPrefix("OK conversation=") } }
            #expect(streaming.count == 10)
            for tail in streaming {
                let final = try #require(tail.last(where: AsyncLineClient.isFinal))
                #expect(final.hasSuffix(" stop=shutdown"))
                #expect(tail.contains("* server shutting down; the reply was cut short"))
            }
            #expect(finals.contains(["* server shutting down"]))
        }
        // Every conversation holds the user's message and the partial reply.
        for index in 0..<10 {
            let stored = try await backends.latestHistory(of: "user\(index)")
            #expect(stored.map(\.role) == ["user", "assistant"])
            #expect(stored.last?.body.hasPrefix(" w0") == true)
        }
    }
}

/// A shared count, behind a mutex.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
