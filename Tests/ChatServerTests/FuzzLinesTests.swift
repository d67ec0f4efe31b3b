import ChatCore
// A flood of seeded random and mutated lines (a million with ENCLAVE_HOSTILE_LINES=1000000) over real
// loopback connections: mutated valid commands, random bytes, invalid UTF-8, NUL bytes, CR without LF,
// and now and then an over-long line (which closes that connection; the flooder reconnects). The server must not crash, its memory must stay
// bounded (RSS printed before and after), and another client must be served while the flood runs.
import EnclaveTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import ChatServer

/// Makes the flood's lines from a seed, so every run sends the same bytes.
struct HostileLines {
    var generator: SplitMix64
    static let seeds = [
        "/login alice alice-password", "/history 3", "/open c1", "/tag phi", "/feedback up x", "/paste", ".", "..x",
        "//x", "/audit from=2020-01-01", "/model echo", "hello", "/whoami", "/help", "/list", "/logout", "/models",
        "/delete c9", "/tags",
    ]

    mutating func below(_ bound: Int) -> Int { Int(generator.next() % UInt64(bound)) }

    /// The next line, with its LF; `overLong` tells the caller the server will close after it.
    mutating func next() -> (bytes: [UInt8], overLong: Bool) {
        var bytes = Array(Self.seeds[below(Self.seeds.count)].utf8)
        switch below(100) {
        case 0..<40:  // mutated command: overwrite, insert or delete a few bytes
            for _ in 0..<(1 + below(4)) {
                let position = below(bytes.count + 1)
                let byte = UInt8(truncatingIfNeeded: generator.next())
                switch below(3) {
                case 0 where position < bytes.count: bytes[position] = byte
                case 1: bytes.insert(byte, at: position)
                default: if position < bytes.count { bytes.remove(at: position) }
                }
            }
        case 40..<55:  // random bytes
            bytes = (0..<below(80)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        case 55..<65:  // invalid UTF-8
            bytes.insert(
                contentsOf: [[0xFF], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80]][below(4)],
                at: below(bytes.count + 1))
        case 65..<75:  // NUL bytes
            bytes.insert(0, at: below(bytes.count + 1))
        case 75..<85:  // CR without LF
            bytes.insert(UInt8(ascii: "\r"), at: below(bytes.count + 1))
        default:
            break
        }
        bytes.removeAll { $0 == UInt8(ascii: "\n") }
        if below(5_000) == 0 {
            return (Array(repeating: UInt8(ascii: "z"), count: 17 * 1024) + [0x0A], true)
        }
        return (bytes + [0x0A], false)
    }
}

/// Counts the final lines (`AsyncLineClient.isFinal`) in a byte stream read in arbitrary pieces, keeping
/// only the first four bytes of each line.
struct FinalLineCounter {
    private(set) var finals = 0
    private var head: [UInt8] = []

    mutating func scan(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            for byte in bytes {
                if byte == UInt8(ascii: "\n") {
                    if Self.isFinal(head) { finals += 1 }
                    head.removeAll(keepingCapacity: true)
                } else if head.count < 4 {
                    head.append(byte)
                }
            }
        }
    }

    /// The first four bytes of a line decide `AsyncLineClient.isFinal` ("OK", "OK ", "ERR "), so the
    /// client's own rule is asked of them.
    static func isFinal(_ head: [UInt8]) -> Bool {
        AsyncLineClient.isFinal(String(decoding: head, as: UTF8.self))
    }
}

/// In the AbuseTests suite, so `make test` runs it in the isolated pass, where it sets
/// `ENCLAVE_HOSTILE_LINES=1000000` (about 3 minutes on 2 cores); a plain `swift test` sends 20,000.
extension AbuseTests {
    struct Tally: Sendable {
        var written = 0
        var finals = 0
        var connections = 0
    }

    /// A connection that reads raw bytes: the flooder counts final lines in whole reads rather than
    /// taking each answer line through a decoder and an async sequence of its own (in a debug build that
    /// was about a quarter of the flood's time, spent in the test rather than the server).
    static func connectRaw(port: Int) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
    }

    /// Sends `count` hostile lines over as many connections as it takes, reading every answer.
    static func flood(port: Int, seed: UInt64, count: Int) async throws -> Tally {
        var lines = HostileLines(generator: SplitMix64(seed: seed))
        var tally = Tally()
        while tally.written < count {
            tally.connections += 1
            let channel = try await Self.connectRaw(port: port)
            let (written, finals) = try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    group.addTask {
                        var counter = FinalLineCounter()
                        do {
                            for try await buffer in inbound { counter.scan(buffer) }
                        } catch {}
                        return counter.finals
                    }
                    var written = 0
                    do {
                        try await outbound.write(ByteBuffer(string: "/login alice alice-password\n"))
                        var closing = false
                        while !closing && tally.written + written < count {
                            var batch = ByteBuffer()
                            var inBatch = 0
                            while inBatch < 500 && tally.written + written + inBatch < count {
                                let (bytes, overLong) = lines.next()
                                batch.writeBytes(bytes)
                                inBatch += 1
                                if overLong {
                                    closing = true
                                    break
                                }
                            }
                            try await outbound.write(batch)
                            written += inBatch
                        }
                        // End a paste that may be open, then quit.
                        if !closing { try await outbound.write(ByteBuffer(string: "\n.\n/quit\n")) }
                    } catch {}
                    outbound.finish()
                    let finals = try await group.next() ?? 0
                    return (written, finals)
                }
            }
            tally.written += written
            tally.finals += finals
        }
        return tally
    }

    @Test func theFloodsFinalLineCounterAgreesWithTheClientsRule() {
        // Lines of every kind, joined and cut into random pieces: the counter must find exactly the lines
        // `AsyncLineClient.isFinal` calls final, wherever the pieces split them.
        let kinds = ["OK", "OK conversation=c1", "ERR bad-command x", "> streamed", "* notice", "OKAY", "ER", "", "O"]
        var generator = SplitMix64(seed: 77)
        for _ in 0..<200 {
            let lines = (0..<Int(generator.next() % 40)).map { _ in kinds[Int(generator.next() % UInt64(kinds.count))] }
            let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
            var counter = FinalLineCounter()
            var offset = 0
            while offset < bytes.count {
                let length = 1 + Int(generator.next() % 7)
                counter.scan(ByteBuffer(bytes: bytes[offset..<min(bytes.count, offset + length)]))
                offset += length
            }
            #expect(counter.finals == lines.filter(AsyncLineClient.isFinal).count, "\(lines)")
        }
    }

    @Test func aFloodOfRandomAndMutatedLinesNeverBreaksTheServer() async throws {
        let total = Int(ProcessInfo.processInfo.environment["ENCLAVE_HOSTILE_LINES"] ?? "") ?? 20_000
        let flooders = 4
        try await TestServer.with(
            core: {
                var configuration = ChatCore.Configuration()
                configuration.lockoutThreshold = .max
                // Mutated `/login` lines fail by the thousand; the delay after each failure (up to 2 s,
                // BruteForceTests' subject) would make this test measure sleeps instead of the parser.
                configuration.failureDelayStep = .zero
                configuration.failureDelayCap = .zero
                return configuration
            }()
        ) { server in
            let before = ProcessMemory.residentBytes()
            let started = ContinuousClock.now
            let floodsDone = Counter()
            let served = Counter()
            let port = server.server.port
            let tallies = try await withThrowingTaskGroup(of: Tally?.self) { group in
                // Meanwhile a well-behaved client is served again and again.
                group.addTask {
                    while floodsDone.value == 0 {
                        try await server.client { client in
                            try await client.login("bob", "bob-password-1")
                            #expect(try await client.final("/whoami") == "OK user=bob role=staff groups=-")
                        }
                        served.increment()
                        try await Task.sleep(for: .milliseconds(250))
                    }
                    return nil
                }
                var floods: [Tally] = []
                for index in 0..<flooders {
                    group.addTask {
                        try await Self.flood(port: port, seed: 0x5EED + UInt64(index), count: total / flooders)
                    }
                }
                for try await tally in group {
                    guard let tally else { continue }
                    floods.append(tally)
                    if floods.count == flooders { floodsDone.increment() }
                }
                return floods
            }
            let elapsed = (ContinuousClock.now - started).components.seconds
            let written = tallies.map(\.written).reduce(0, +)
            let after = ProcessMemory.residentBytes()
            print(
                "abuse: \(written) random/mutated lines over \(tallies.map(\.connections).reduce(0, +)) connections "
                    + "in \(elapsed) s: "
                    + "\(tallies.map(\.finals).reduce(0, +)) final lines; a bystander served "
                    + "\(served.value) times; RSS \(before >> 20) MiB -> \(after >> 20) MiB")
            #expect(written == total)
            #expect(served.value > 0)
            #expect(after - before < 256 << 20)
            // Still serving after the flood.
            try await server.client { client in
                try await client.login("bob", "bob-password-1")
                #expect(try await client.final("/whoami") == "OK user=bob role=staff groups=-")
            }
        }
    }
}
