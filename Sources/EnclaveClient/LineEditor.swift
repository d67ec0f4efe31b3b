// The line editor of `enclave chat` on a terminal, as a pure state machine over key bytes: no I/O,
// so every key sequence can be tested. The terminal glue (raw mode, reading bytes, writing the
// rendering) is in Sources/enclave/LineEditorTerminal.swift.
//
// A paste arrives in bracketed-paste mode (xterm's ESC[200~ text ESC[201~, switched on by the terminal
// glue): its line breaks stay in the line (shown as ↵), so a pasted block is one message. A line that
// starts with `/login ` is shown without its password and never enters the history.
//
//   keys                      effect
//   printable, UTF-8          insert at the cursor
//   ← → / Ctrl-B Ctrl-F       move one character
//   Home End / Ctrl-A Ctrl-E  start / end of line
//   Backspace / Delete        delete before / at the cursor
//   Ctrl-U / Ctrl-K / Ctrl-W  delete to the start / to the end / the word before the cursor
//   ↑ ↓ / Ctrl-P Ctrl-N       previous / next line of the history (the draft is kept)
//   Ctrl-C                    abandon the line
//   Ctrl-D                    end of input on an empty line, else delete at the cursor
//   Enter                     submit (non-empty lines enter the history, without repeats)
//
// Each character is taken to be one column wide.

/// Editing state of one input line plus the history of submitted lines.
public struct LineEditor: Sendable {
    /// What the terminal should do after a key byte.
    public enum Action: Equatable, Sendable {
        /// Nothing visible changed (e.g. the middle of an escape sequence).
        case none
        /// The line or the cursor changed: redraw it.
        case redraw
        /// The line was abandoned (Ctrl-C): show that and start an empty line.
        case cancelled
        /// The line is complete.
        case submit(String)
        /// Ctrl-D on an empty line.
        case endOfInput
    }

    /// The line being edited.
    public private(set) var characters: [Character] = []
    /// The cursor, as an index into `characters` (0...count).
    public private(set) var cursor = 0
    /// Submitted lines, oldest first.
    public private(set) var history: [String] = []
    /// The most lines kept in the history.
    public let historyLimit: Int
    /// Which history entry is shown (`history.count` = the draft).
    private var historyIndex = 0
    private var draft: [Character] = []
    /// Bytes of an escape sequence or a UTF-8 character not yet complete.
    private var pending: [UInt8] = []
    /// True between ESC[200~ and ESC[201~: keys are text, line breaks included.
    private var pasting = false
    private var lastPastedByte: UInt8 = 0
    /// How the line breaks of a paste are shown on the one input line.
    public static let lineBreakSymbol: Character = "\u{21B5}"

    public init(historyLimit: Int = 500) {
        self.historyLimit = historyLimit
    }

    /// The line as text.
    public var text: String { String(characters) }

    /// Feeds one byte read from the terminal.
    public mutating func feed(_ byte: UInt8) -> Action {
        if !pending.isEmpty || byte == 0x1B { return continueSequence(byte) }
        if pasting {
            defer { lastPastedByte = byte }
            return pasted(byte)
        }
        switch byte {
        case 0x01: return move(to: 0)
        case 0x02: return move(to: cursor - 1)
        case 0x03:
            reset()
            return .cancelled
        case 0x04:
            if characters.isEmpty { return .endOfInput }
            return deleteAtCursor()
        case 0x05: return move(to: characters.count)
        case 0x06: return move(to: cursor + 1)
        case 0x08, 0x7F:
            guard cursor > 0 else { return .none }
            characters.remove(at: cursor - 1)
            cursor -= 1
            return .redraw
        case 0x0A, 0x0D:
            let line = text
            if !line.isEmpty && history.last != line && !Self.holdsPassword(line) {
                history.append(line)
                if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
            }
            reset()
            return .submit(line)
        case 0x0B:
            characters.removeSubrange(cursor...)
            return .redraw
        case 0x0E: return showHistory(historyIndex + 1)
        case 0x10: return showHistory(historyIndex - 1)
        case 0x15:
            characters.removeSubrange(..<cursor)
            cursor = 0
            return .redraw
        case 0x17: return deleteWordBeforeCursor()
        case 0x00..<0x20: return .none
        case 0x20..<0x80: return insert(Character(Unicode.Scalar(byte)))
        default:
            pending = [byte]
            return completeCharacter()
        }
    }

    /// Feeds several bytes; returns every action that is not `.none`.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Action] {
        bytes.map { feed($0) }.filter { $0 != .none }
    }

    /// What to write to redraw the line after `prompt`: return to column 0, the prompt and line,
    /// clear the rest, then move the cursor back to its place. Line breaks show as ↵, tabs as a space,
    /// a `/login` line ends after the user name and a `/passwd` line after its name (passwords are
    /// typed blind).
    public func rendering(prompt: String) -> String {
        var shown = characters.map { $0 == "\n" ? Self.lineBreakSymbol : $0 == "\t" ? " " : $0 }
        if Self.isLogin(text) {
            let name = characters.dropFirst(7).prefix { $0 != " " }.count
            shown = Array(shown.prefix(min(shown.count, 7 + name + 1)))
        } else if Self.isPasswordChange(text) {
            shown = Array(shown.prefix(8))
        }
        var out = "\r" + prompt + String(shown) + "\u{1B}[K"
        let back = shown.count - min(cursor, shown.count)
        if back > 0 { out += "\u{1B}[\(back)D" }
        return out
    }

    /// True for a `/login` line, which holds a password.
    public static func isLogin(_ line: String) -> Bool { line.hasPrefix("/login ") }

    /// True for a `/passwd` line, which holds two passwords.
    public static func isPasswordChange(_ line: String) -> Bool { line.hasPrefix("/passwd ") }

    /// True for a line that holds a password: never echoed in full, never kept in the history.
    public static func holdsPassword(_ line: String) -> Bool { isLogin(line) || isPasswordChange(line) }

    // MARK: Bracketed paste

    /// A byte of a paste: text, with CR, LF and CR LF as line breaks; other control bytes are dropped.
    private mutating func pasted(_ byte: UInt8) -> Action {
        switch byte {
        case 0x0D: return insert("\n")
        case 0x0A:
            // The LF of a CR LF pair was already taken as the line break.
            if cursor > 0, characters[cursor - 1] == "\n", lastPastedByte == 0x0D { return .none }
            return insert("\n")
        case 0x09: return insert("\t")
        case 0x00..<0x20: return .none
        case 0x20..<0x80: return insert(Character(Unicode.Scalar(byte)))
        default:
            pending = [byte]
            return completeCharacter()
        }
    }

    // MARK: Editing

    private mutating func insert(_ character: Character) -> Action {
        characters.insert(character, at: cursor)
        cursor += 1
        return .redraw
    }

    private mutating func move(to position: Int) -> Action {
        let clamped = min(max(0, position), characters.count)
        guard clamped != cursor else { return .none }
        cursor = clamped
        return .redraw
    }

    private mutating func deleteAtCursor() -> Action {
        guard cursor < characters.count else { return .none }
        characters.remove(at: cursor)
        return .redraw
    }

    private mutating func deleteWordBeforeCursor() -> Action {
        var start = cursor
        while start > 0 && characters[start - 1] == " " { start -= 1 }
        while start > 0 && characters[start - 1] != " " { start -= 1 }
        guard start < cursor else { return .none }
        characters.removeSubrange(start..<cursor)
        cursor = start
        return .redraw
    }

    private mutating func showHistory(_ index: Int) -> Action {
        guard index >= 0, index <= history.count, index != historyIndex else { return .none }
        if historyIndex == history.count { draft = characters }
        historyIndex = index
        characters = index == history.count ? draft : Array(history[index])
        cursor = characters.count
        return .redraw
    }

    private mutating func reset() {
        characters = []
        cursor = 0
        draft = []
        historyIndex = history.count
        pending = []
        pasting = false
    }

    // MARK: Escape sequences and UTF-8

    private mutating func continueSequence(_ byte: UInt8) -> Action {
        pending.append(byte)
        guard pending[0] == 0x1B else { return completeCharacter() }
        guard pending.count >= 2 else { return .none }
        // ESC [ ... final byte (0x40-0x7E), or ESC O x; anything else is dropped.
        let introducer = pending[1]
        guard introducer == UInt8(ascii: "[") || introducer == UInt8(ascii: "O") else {
            pending = []
            return .none
        }
        guard pending.count >= 3 else { return .none }
        guard (0x40...0x7E).contains(byte) else {
            if pending.count > 8 { pending = [] }
            return .none
        }
        let sequence = String(decoding: pending[1...], as: UTF8.self)
        pending = []
        switch sequence {
        case "[A", "OA": return showHistory(historyIndex - 1)
        case "[B", "OB": return showHistory(historyIndex + 1)
        case "[C", "OC": return move(to: cursor + 1)
        case "[D", "OD": return move(to: cursor - 1)
        case "[H", "OH", "[1~", "[7~": return move(to: 0)
        case "[F", "OF", "[4~", "[8~": return move(to: characters.count)
        case "[3~": return deleteAtCursor()
        case "[200~":
            pasting = true
            lastPastedByte = 0
            return .none
        case "[201~":
            pasting = false
            return .redraw
        default: return .none
        }
    }

    /// Completes a multi-byte UTF-8 character in `pending`, inserting it once whole; invalid bytes are dropped.
    private mutating func completeCharacter() -> Action {
        let lead = pending[0]
        let length =
            switch lead {
            case 0xC2...0xDF: 2
            case 0xE0...0xEF: 3
            case 0xF0...0xF4: 4
            default: 0
            }
        guard length > 0, pending.dropFirst().allSatisfy({ $0 & 0xC0 == 0x80 }) else {
            pending = []
            return .none
        }
        guard pending.count == length else { return .none }
        defer { pending = [] }
        guard let decoded = String(validating: pending, as: UTF8.self), let character = decoded.first else {
            return .none
        }
        return insert(character)
    }
}
