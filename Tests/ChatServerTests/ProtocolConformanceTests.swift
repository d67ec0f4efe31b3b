// Transcript tests of the line protocol (DESIGN.md §3) over real loopback sockets: the banner, every
// core command, every error code a client can provoke, one final line per client line, /paste,
// `//`, CRLF, invalid UTF-8 and NUL bytes, and the line limits.
import Audit
import ChatCore
import ChatCoreTestSupport
import Foundation
import Testing

@testable import ChatServer

@Suite struct ProtocolConformanceTests {
    @Test func bannerThenLoginGate() async throws {
        try await TestServer.with { server in
            try await server.client { client in
                #expect(client.banner.first == "* enclave test ready")
                #expect(try await client.final("/list") == "ERR auth-required log in first: /login <user> <password>")
                #expect(try await client.final("hello").hasPrefix("ERR auth-required"))
                #expect(try await client.final("/frobnicate").hasPrefix("ERR auth-required"))
                let help = try await client.exchange("/help")
                #expect(help.last == "OK")
                #expect(help.dropLast().allSatisfy { $0.hasPrefix("* ") })
                #expect(
                    try await client.final("/login alice wrong-password")
                        == "ERR auth-failed unknown user or wrong password")
                #expect(
                    try await client.final("/login nobody wrong-password")
                        == "ERR auth-failed unknown user or wrong password")
                #expect(
                    try await client.final("/login dave dave-password")
                        == "ERR auth-failed unknown user or wrong password")
                #expect(try await client.final("/login alice alice-password") == "OK user=alice role=staff")
                #expect(try await client.final("/login alice alice-password").hasPrefix("ERR bad-arguments"))
                #expect(try await client.final("/whoami") == "OK user=alice role=staff groups=ward3")
                #expect(try await client.final("/quit") == "OK bye")
                #expect(try await client.readLine() == nil)
            }
            let outcomes = try server.events().filter { $0.action == "auth.login" }.map(\.outcome)
            #expect(outcomes == ["failed", "unknown-user", "disabled", "ok"])
        }
    }

    /// The id in `/new`'s answer (`OK conversation=<20 hex digits>`).
    static func created(_ final: String) throws -> String {
        String(try #require(final.wholeMatch(of: /OK conversation=([0-9a-f]{20})/), "\(final)").1)
    }

    @Test func chatMessageStreamsAndEndsWithTheSummary() async throws {
        try await TestServer.with { server in
            try await server.client { client in
                try await client.login("alice", "alice-password")
                let reply = try await client.exchange("hello echo world")
                #expect(reply.first?.hasPrefix("* ") == true)
                #expect(reply.contains("> hello echo world"))
                let final = try #require(reply.last)
                #expect(
                    final.wholeMatch(of: /OK conversation=[0-9a-f]{20} provider=echo model=echo-1 tokens=3 ms=[0-9]+/)
                        != nil, "\(final)")
                // `//` sends a literal leading slash; empty lines get no answer at all.
                try await client.send("")
                #expect(try await client.exchange("//slash first").contains("> /slash first"))
                let history = try await client.exchange("/history")
                #expect(history.last == "OK messages=4")
                let rows = history.filter { $0.hasPrefix("= ") }.map { $0.dropFirst(2).split(separator: "\t") }
                #expect(rows.map { $0[1] } == ["user", "assistant", "user", "assistant"])
                #expect(rows.map { $0[3] } == ["hello echo world", "hello echo world", "/slash first", "/slash first"])
                #expect(try await client.final("/history 1") == "OK messages=1")
            }
            let actions = try server.events().map(\.action)
            #expect(actions.filter { $0 == "model.decision" }.count == 2)
            #expect(actions.filter { $0 == "model.call" }.count == 2)
            // The decision is audited before the call record.
            #expect(actions.firstIndex(of: "model.decision")! < actions.firstIndex(of: "model.call")!)
        }
    }

    @Test func conversationCommands() async throws {
        try await TestServer.with { server in
            try await server.client { client in
                try await client.login("alice", "alice-password")
                #expect(try await client.final("/tags").hasPrefix("ERR not-found"))
                let c1 = try Self.created(try await client.final("/new Ward rota"))
                #expect(try await client.final("/tag PHI") == "OK conversation=\(c1) tags=phi")
                #expect(try await client.final("/tag bad tag").hasPrefix("ERR bad-arguments"))
                #expect(try await client.final("/tag b@d").hasPrefix("ERR bad-arguments"))
                #expect(try await client.exchange("/tags") == ["= phi", "OK tags=1"])
                let c2 = try Self.created(try await client.final("/new"))
                #expect(c2 != c1)
                let list = try await client.exchange("/list")
                #expect(list.last == "OK conversations=2")
                #expect(list.contains { $0.hasPrefix("= \(c1)\tWard rota\tphi\t-\t") })
                #expect(try await client.final("/open \(c1)") == "OK conversation=\(c1) messages=0")
                #expect(try await client.final("/open c99") == "ERR not-found no conversation c99")
                #expect(try await client.final("/feedback up nice") == "OK feedback=up")
                let models = try await client.exchange("/models")
                #expect(models == ["= echo\ton-prem\t-\techo-1\tallowed\t-\tctx=32768", "OK providers=1"])
                #expect(try await client.final("/model echo") == "OK model=echo residency=on-prem")
                #expect(try await client.final("/model gpt-9").hasPrefix("ERR not-found"))
                #expect(try await client.final("/delete \(c1)") == "OK deleted=\(c1)")
                #expect(try await client.final("/tags").hasPrefix("ERR not-found"))
                #expect(try await client.final("/logout") == "OK logged out")
                #expect(try await client.final("/list").hasPrefix("ERR auth-required"))
            }
        }
    }

    @Test func rolesAreEnforcedAndRefusalsAudited() async throws {
        try await TestServer.with { server in
            let c1 = try await server.client { client in
                try await client.login("alice", "alice-password")
                let c1 = try Self.created(try await client.final("/new"))
                #expect(try await client.final("/audit") == "ERR forbidden /audit needs the compliance role")
                #expect(try await client.final("/reload") == "ERR forbidden /reload needs the admin role")
                return c1
            }
            try await server.client { client in
                try await client.login("bob", "bob-password-1")
                #expect(
                    try await client.final("/open \(c1)") == "ERR forbidden that conversation belongs to someone else")
                #expect(try await client.final("/delete \(c1)").hasPrefix("ERR forbidden"))
            }
            try await server.client { client in
                try await client.login("carol", "carol-password")
                let rows = try await client.exchange("/audit")
                #expect(rows.last?.hasPrefix("OK rows=") == true)
                // seq, time, actor, role, origin, action, subject, outcome, ...
                let fields = rows.map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
                #expect(
                    fields.contains {
                        $0.count > 7
                            && [$0[2], $0[5], $0[6], $0[7]] == ["alice", "access.denied", "command:audit", "forbidden"]
                    })
            }
            try await server.client { client in
                try await client.login("root", "root-password")
                let serving = try #require(await server.policy.sha256)
                #expect(try await client.final("/reload") == "OK policy=\(serving)")
            }
            let denied = try server.events().filter { $0.action == "access.denied" }.map(\.subject)
            #expect(denied == ["command:audit", "command:reload", "conversation:\(c1)", "conversation:\(c1)"])
        }
    }

    @Test func pasteIsOneMessageWithDotStuffingUndone() async throws {
        try await TestServer.with { server in
            try await server.client { client in
                try await client.login("alice", "alice-password")
                try await client.send("/paste")
                #expect(try await client.readLine()?.hasPrefix("* paste mode") == true)
                for line in ["first", "..dotted", "", "last"] { try await client.send(line) }
                let reply = try await client.exchange(".")
                #expect(reply.filter { $0.hasPrefix("> ") } == ["> first", "> .dotted", "> ", "> last"])
                #expect(reply.last?.hasPrefix("OK conversation=") == true)
                let history = try await client.exchange("/history 1")
                #expect(history.first == nil ? false : history.first!.hasSuffix("\tfirst\\n.dotted\\n\\nlast"))
            }
        }
    }

    @Test func crlfInvalidUTF8AndNulGetClearAnswers() async throws {
        try await TestServer.with { server in
            try await server.client { client in
                try await client.sendRaw(Array("/login alice alice-password\r\n".utf8))
                #expect(try await client.readReply() == ["OK user=alice role=staff"])
                try await client.sendRaw([0x68, 0xFF, 0xFE, 0x0A])
                #expect(try await client.readReply() == ["ERR bad-encoding lines must be UTF-8 text"])
                try await client.sendRaw([0x68, 0x00, 0x69, 0x0A])
                #expect(try await client.readReply() == ["ERR bad-encoding lines must not contain NUL bytes"])
                // The session survives both.
                #expect(try await client.final("/whoami") == "OK user=alice role=staff groups=ward3")
            }
        }
    }

    @Test func everyLineGetsExactlyOneFinalLineInOrderWhenPipelined() async throws {
        try await TestServer.with { server in
            try await server.client { client in
                let script = [
                    "/login alice alice-password", "/whoami", "/nope", "one", "", "/tags", "two", "/history x",
                    "/whoami",
                ]
                try await client.sendRaw(Array(script.map { $0 + "\n" }.joined().utf8))
                var finals: [String] = []
                for _ in 0..<(script.count - 1) { finals.append(try #require(try await client.readReply().last)) }
                #expect(
                    finals.map { String($0.prefix(while: { $0 != " " })) } == [
                        "OK", "OK", "ERR", "OK", "OK", "OK", "ERR", "OK",
                    ])
                #expect(finals[2].hasPrefix("ERR unknown-command"))
                #expect(finals[6].hasPrefix("ERR bad-arguments"))
            }
        }
    }

    @Test func overLongLinesAreRefusedAndTheConnectionCloses() async throws {
        try await TestServer.with { server in
            // Before login: 1 KiB.
            try await server.client { client in
                try await client.sendRaw(Array(repeating: UInt8(ascii: "a"), count: 2000))
                #expect(try await client.readLine() == "ERR line-too-long a line may hold at most 1024 bytes; closing")
                #expect(try await client.readLine() == nil)
            }
            // After login: 16 KiB, and a line just under it is fine.
            try await server.client { client in
                try await client.login("alice", "alice-password")
                let reply = try await client.exchange(String(repeating: "b", count: 16_000))
                #expect(reply.last?.hasPrefix("OK conversation=") == true)
                try await client.send(String(repeating: "c", count: 17_000))
                #expect(try await client.readLine() == "ERR line-too-long a line may hold at most 16384 bytes; closing")
                #expect(try await client.readLine() == nil)
            }
        }
    }

    @Test func idleConnectionsGetANoticeAndClose() async throws {
        try await TestServer.with(configure: { $0.idleBeforeLogin = .seconds(1) }) { server in
            try await server.client { client in
                let notice = try await client.readLine()
                let end = try await client.readLine()
                #expect(notice == "* idle timeout")
                #expect(end == nil)
            }
        }
    }

    @Test func theIdleClockStartsWhenAnAnswerEndsNotWhenItsLineArrived() async throws {
        // The reply (6 s) takes longer than the idle limit (5 s); the client then waits 300 ms, well under
        // the limit, and asks again. The login and the question go out together, so a test runner slow to
        // schedule this client cannot open an idle gap before the question.
        try await TestServer.with(
            configure: { $0.idleAfterLogin = .seconds(5) },
            gateway: TestProvider.paced(name: "paced", words: 3, pause: .seconds(2)).gateway
        ) { server in
            try await server.client { client in
                try await client.send("/login alice alice-password\na question that takes a while to answer")
                #expect(try await client.readReply().last?.hasPrefix("OK user=alice") == true)
                #expect(try await client.readReply().last?.hasPrefix("OK conversation=") == true)
                let answered = ContinuousClock.now
                try await Task.sleep(for: .milliseconds(300))
                // Closed as idle (an error, or the idle notice's line instead of OK): a fault only if the
                // question really came within the idle limit of the answer. A runner whose two cores are
                // saturated can starve this task or the server for longer (the full suite once took 232 s
                // for this test); then nothing about the clock can be judged.
                let outcome: String
                do { outcome = try await client.final("/whoami") } catch { outcome = "\(error)" }
                let gap = ContinuousClock.now - answered
                if !outcome.hasPrefix("OK user=alice") {
                    if gap < .seconds(4) {
                        Issue.record("the session closed \(gap) after the answer: \(outcome)")
                    } else {
                        print("the idle-clock test was starved for \(gap) after the answer; not judged")
                    }
                }
            }
        }
    }

    @Test func connectionLimitsPerAddress() async throws {
        // The two held connections never log in: a loaded machine must not let their idle timeout end them first.
        try await TestServer.with(configure: {
            $0.maxConnectionsPerAddress = 2
            $0.idleBeforeLogin = .seconds(600)
        }) { server in
            try await server.client { first in
                try await server.client { second in
                    try await AsyncLineClient.with(port: server.server.port, readBanner: false) { third in
                        let refusal = try await third.readLine()
                        let end = try await third.readLine()
                        #expect(refusal == "ERR busy too many connections; try again later")
                        #expect(end == nil)
                    }
                    #expect(try await second.final("/help") == "OK")
                }
                #expect(try await first.final("/help") == "OK")
            }
        }
    }
}
