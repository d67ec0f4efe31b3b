// `enclave chat`'s rendering of server output, with the expected screens written from PROTOCOL.md's
// escapes (`\\` `\t` `\r` `\n` inside a `= ` field) and the arithmetic done by hand.
import EnclaveClient
import Testing

@Suite struct ReplyRendererTests {
    @Test func streamedTextIsShownBeforeItsLineEndsEvenInsideAUTF8Character() {
        var renderer = ReplyRenderer(forPeople: true)
        let bytes = Array("> caf\u{E9}!\nOK".utf8)  // é is C3 A9
        let first = renderer.feed(bytes[..<6])  // "> caf" + C3
        #expect(first.display == "> caf" && first.lines.isEmpty)
        let second = renderer.feed(bytes[6...])
        #expect(second.display == "\u{E9}!\n")
        #expect(second.lines == ["> caf\u{E9}!"])
    }

    @Test func historyRowsShowTheirLineBreaksForPeopleOnly() {
        let row = "= 2\tuser\t2026-12-02T06:00:00Z\tfirst\\nsecond \\\\n\\tx\n"
        var people = ReplyRenderer(forPeople: true)
        people.historyRows = true
        #expect(people.feed(Array(row.utf8)).display == "#2 user 2026-12-02T06:00:00Z\n    first\n    second \\n\tx\n")
        var script = ReplyRenderer(forPeople: false)
        script.historyRows = true
        #expect(script.feed(Array(row.utf8)).display == row)
    }

    @Test func aChatReplysFinalLineIsFollowedByItsSpeed() {
        var renderer = ReplyRenderer(forPeople: true)
        let final = "OK conversation=c1 provider=local model=m tokens=42 ms=2000\n"
        #expect(renderer.feed(Array(final.utf8)).display == final + "* 42 tokens in 2.0 s: 21.0 tokens/s\n")
        #expect(renderer.feed(Array("OK user=a role=staff\n".utf8)).display == "OK user=a role=staff\n")
    }
}
