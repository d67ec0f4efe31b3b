// The line editor of `enclave chat` driven by the byte sequences a terminal (xterm/VT100) sends for
// each key; expected lines are worked out by hand from the key meanings.
import Testing

@testable import EnclaveClient

@Suite struct LineEditorTests {
    static let left: [UInt8] = [0x1B, 0x5B, 0x44]
    static let right: [UInt8] = [0x1B, 0x5B, 0x43]
    static let up: [UInt8] = [0x1B, 0x5B, 0x41]
    static let down: [UInt8] = [0x1B, 0x5B, 0x42]
    static let home: [UInt8] = [0x1B, 0x5B, 0x48]
    static let end: [UInt8] = [0x1B, 0x4F, 0x46]
    static let delete: [UInt8] = [0x1B, 0x5B, 0x33, 0x7E]
    static let backspace: [UInt8] = [0x7F]
    static let enter: [UInt8] = [0x0D]

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Feeds keys and returns the last submitted line (or nil).
    static func submitted(_ editor: inout LineEditor, _ keys: [UInt8]...) -> String? {
        var last: String?
        for case .submit(let line) in editor.feed(keys.joined()) { last = line }
        return last
    }

    @Test func typingAndEnterSubmitsTheLine() {
        var editor = LineEditor()
        #expect(Self.submitted(&editor, Self.bytes("hello"), Self.enter) == "hello")
        #expect(editor.text.isEmpty && editor.cursor == 0)
        // LF works as Enter too.
        #expect(Self.submitted(&editor, Self.bytes("x"), [0x0A]) == "x")
    }

    @Test func arrowsHomeEndMoveTheCursor() {
        var editor = LineEditor()
        let line = Self.submitted(
            &editor, Self.bytes("bc"), Self.home, Self.bytes("a"), Self.end, Self.bytes("e"), Self.left,
            Self.bytes("d"), Self.right, Self.bytes("f"), Self.enter)
        #expect(line == "abcdef")
        // Ctrl-A / Ctrl-E, Ctrl-B / Ctrl-F.
        let again = Self.submitted(
            &editor, Self.bytes("yz"), [0x01], Self.bytes("x"), [0x05, 0x02, 0x02, 0x06], Self.bytes("-"), Self.enter)
        #expect(again == "xy-z")
    }

    @Test func backspaceAndDeleteRemoveAroundTheCursor() {
        var editor = LineEditor()
        let line = Self.submitted(
            &editor, Self.bytes("abcd"), Self.left, Self.left, Self.backspace, Self.delete, Self.enter)
        #expect(line == "ad")
        // Backspace at the start and Delete at the end do nothing.
        #expect(
            Self.submitted(&editor, Self.bytes("q"), Self.home, Self.backspace, Self.end, Self.delete, Self.enter)
                == "q")
    }

    @Test func controlUWAndKDeleteSpans() {
        var editor = LineEditor()
        #expect(Self.submitted(&editor, Self.bytes("one two  three"), [0x17], Self.enter) == "one two  ")
        #expect(Self.submitted(&editor, Self.bytes("one two"), [0x17, 0x17], Self.bytes("x"), Self.enter) == "x")
        #expect(Self.submitted(&editor, Self.bytes("abc def"), Self.left, Self.left, [0x15], Self.enter) == "ef")
        #expect(Self.submitted(&editor, Self.bytes("abc def"), Self.home, Self.right, [0x0B], Self.enter) == "a")
    }

    @Test func historyRecallsEarlierLinesAndKeepsTheDraft() {
        var editor = LineEditor()
        _ = Self.submitted(&editor, Self.bytes("first"), Self.enter)
        _ = Self.submitted(&editor, Self.bytes("second"), Self.enter)
        _ = Self.submitted(&editor, Self.bytes("second"), Self.enter)  // a repeat is stored once
        #expect(editor.history == ["first", "second"])
        _ = editor.feed(Self.bytes("draft"))
        _ = editor.feed(Self.up)
        #expect(editor.text == "second")
        _ = editor.feed(Self.up + Self.up)  // stops at the oldest
        #expect(editor.text == "first" && editor.cursor == 5)
        _ = editor.feed(Self.down + Self.down)
        #expect(editor.text == "draft")
        let beyond = editor.feed(Self.down)
        #expect(beyond.isEmpty)
        // An edited recall is submitted as edited; the history entry itself is unchanged.
        #expect(Self.submitted(&editor, [0x15], Self.up, Self.bytes("!"), Self.enter) == "second!")
        #expect(editor.history == ["first", "second", "second!"])
        // Empty lines do not enter the history.
        #expect(Self.submitted(&editor, Self.enter) == "")
        #expect(editor.history.count == 3)
    }

    @Test func historyIsBounded() {
        var editor = LineEditor(historyLimit: 3)
        for index in 0..<5 { _ = Self.submitted(&editor, Self.bytes("l\(index)"), Self.enter) }
        #expect(editor.history == ["l2", "l3", "l4"])
    }

    @Test func controlCClearsAndControlDEndsOnlyAnEmptyLine() {
        var editor = LineEditor()
        let actions = editor.feed(Self.bytes("oops") + [0x03])
        #expect(actions == Array(repeating: LineEditor.Action.redraw, count: 4) + [.cancelled])
        #expect(editor.text.isEmpty)
        // Ctrl-D with text deletes at the cursor; on an empty line it ends input.
        _ = editor.feed(Self.bytes("ab") + Self.left)
        let deleted = editor.feed(0x04)
        #expect(deleted == .redraw)
        #expect(editor.text == "a")
        _ = editor.feed(Self.backspace)
        let ended = editor.feed(0x04)
        #expect(ended == .endOfInput)
    }

    @Test func utf8CharactersAreInsertedWholeAndInvalidBytesDropped() {
        var editor = LineEditor()
        // "é" (C3 A9), "€" (E2 82 AC), "😀" (F0 9F 98 80); then a stray continuation byte and an
        // unfinished lead byte followed by ASCII, both dropped.
        let keys: [UInt8] = [0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0x80, 0xC3, 0x41]
        _ = editor.feed(keys)
        #expect(editor.text == "é€😀")
        #expect(Self.submitted(&editor, Self.backspace, Self.bytes("x"), Self.enter) == "é€x")
        // Unknown escape sequences and other control bytes change nothing.
        let ignored = editor.feed([0x1B, 0x5B, 0x31, 0x3B, 0x35, 0x43, 0x1B, 0x78, 0x07, 0x1A] as [UInt8])
        #expect(ignored.isEmpty)
    }

    @Test func renderingRedrawsTheLineAndPlacesTheCursor() {
        var editor = LineEditor()
        _ = editor.feed(Self.bytes("hello") + Self.left + Self.left)
        #expect(editor.rendering(prompt: "you> ") == "\ryou> hello\u{1B}[K\u{1B}[2D")
        _ = editor.feed(Self.end)
        #expect(editor.rendering(prompt: "> ") == "\r> hello\u{1B}[K")
    }
}

/// Bracketed paste (xterm: ESC[200~ text ESC[201~) and the hidden `/login` password.
@Suite struct LineEditorPasteTests {
    static func paste(_ text: String) -> [UInt8] {
        Array("\u{1B}[200~".utf8) + Array(text.utf8) + Array("\u{1B}[201~".utf8)
    }

    @Test func aPasteKeepsItsLineBreaksUntilEnter() {
        var editor = LineEditor()
        let actions = editor.feed(Self.paste("one\r\ntwo\rthree\nfour") + [0x0D])
        #expect(actions.last == .submit("one\ntwo\nthree\nfour"))
        #expect(editor.text.isEmpty)
    }

    @Test func aPasteShowsItsBreaksAsOneSymbolAndControlBytesAreDropped() {
        var editor = LineEditor()
        _ = editor.feed(Array("> ".utf8) + Self.paste("a\u{3}b\r\nc\té"))
        #expect(editor.text == "> ab\nc\té")
        #expect(editor.rendering(prompt: "p ") == "\rp > ab\u{21B5}c é\u{1B}[K")
    }

    @Test func aLoginLineHidesThePasswordAndStaysOutOfTheHistory() {
        var editor = LineEditor()
        _ = editor.feed(Array("/login nurse s3cret pass".utf8))
        #expect(editor.rendering(prompt: "> ") == "\r> /login nurse \u{1B}[K")
        #expect(editor.feed([0x0D]) == [.submit("/login nurse s3cret pass")])
        _ = editor.feed(Array("hello".utf8) + [0x0D])
        #expect(editor.history == ["hello"])
    }

    @Test func aPasswordChangeLineHidesBothPasswordsAndStaysOutOfTheHistory() {
        var editor = LineEditor()
        _ = editor.feed(Array("/passwd old-one-time new-secret-1".utf8))
        #expect(editor.rendering(prompt: "> ") == "\r> /passwd \u{1B}[K")
        #expect(editor.feed([0x0D]) == [.submit("/passwd old-one-time new-secret-1")])
        #expect(editor.history.isEmpty)
        #expect(ChatClient.describe("/passwd old-one-time new-secret-1") == "/passwd ...")
    }
}
