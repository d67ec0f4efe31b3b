// The SSE parser against hand-written streams (the oracle is the WHATWG event-stream grammar, applied
// by hand): every split of the bytes gives the same events, and malformed input is a clear error.
import Testing

@testable import Routing

@Suite struct SSEParserTests {
    static let stream =
        "data: {\"a\":1}\n\n: keep-alive\r\nevent: note\r\ndata: line one\r\ndata:line two\r\n\r\n"
        + "id: 7\rdata: é\r\rretry: 10\n\n"
    static let expected = [
        ServerSentEvent(data: "{\"a\":1}"),
        ServerSentEvent(event: "note", data: "line one\nline two"),
        ServerSentEvent(data: "é"),
    ]

    @Test func parsesAWholeStream() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array(Self.stream.utf8)) == Self.expected)
        #expect(!parser.hasPendingInput)
    }

    @Test func everySplitGivesTheSameEvents() throws {
        let bytes = Array(Self.stream.utf8)
        for cut in 0...bytes.count {
            var parser = SSEParser()
            let events = try parser.feed(bytes[..<cut]) + parser.feed(bytes[cut...])
            #expect(events == Self.expected, "split at \(cut)")
        }
    }

    @Test func oneByteAtATime() throws {
        var parser = SSEParser()
        var events: [ServerSentEvent] = []
        for byte in Self.stream.utf8 { events += try parser.feed([byte]) }
        #expect(events == Self.expected)
    }

    @Test func anUnfinishedEventIsPending() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: x\n".utf8)).isEmpty)
        #expect(parser.hasPendingInput)
    }

    @Test func invalidUTF8IsMalformed() {
        var parser = SSEParser()
        #expect(throws: RoutingError.self) { try parser.feed(Array("data: ".utf8) + [0xFF, 0xFE, 0x0A]) }
        do {
            var again = SSEParser()
            _ = try again.feed(Array("data: ".utf8) + [0xC3, 0x0A])
            Issue.record("a truncated UTF-8 sequence was accepted")
        } catch {
            #expect(error.providerFailure == .malformedStream)
        }
    }

    @Test func anOverlongLineIsMalformedNotBuffered() {
        var parser = SSEParser(maximumLineLength: 64)
        do {
            _ = try parser.feed(Array(repeating: UInt8(ascii: "a"), count: 65))
            Issue.record("an over-long line was accepted")
        } catch {
            #expect(error.code == "provider-malformed-stream")
        }
    }
}
