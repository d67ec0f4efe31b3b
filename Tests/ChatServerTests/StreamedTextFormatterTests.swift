// StreamedTextFormatter: `> ` framing of streamed text across arbitrary chunk boundaries.
import Testing

@testable import ChatServer

@Suite struct StreamedTextFormatterTests {
    private func render(_ pieces: [String]) -> String {
        var formatter = StreamedTextFormatter()
        return pieces.map { formatter.format($0) }.joined() + formatter.finish()
    }

    @Test func aNewlineInsideTheReplyStartsANewLine() {
        #expect(render(["Hello", " world", "\nSecond", " line"]) == "> Hello world\n> Second line\n")
        #expect(render(["a\n\nb"]) == "> a\n> \n> b\n")
        #expect(render(["ends with newline\n"]) == "> ends with newline\n")
    }

    @Test func controlCharactersAreDroppedButTabsKept() {
        #expect(render(["a\u{1B}[31mred\r\tb\u{7F}"]) == "> a[31mred\tb\n")
    }

    @Test func emptyReplyWritesNothing() {
        #expect(render([]) == "")
        #expect(render([""]) == "")
    }
}
