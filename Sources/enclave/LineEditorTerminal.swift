// The terminal side of `enclave chat`'s line editor: puts the terminal in raw mode for the time one
// line is being typed (the terminal is restored before the line is returned, whatever ends it: Enter,
// Ctrl-C, Ctrl-D, end of input or a read error), feeds each key byte to ChatServer's `LineEditor`
// and redraws the line. Between lines the terminal is in its normal mode, so replies stream as usual.
import ChatServer
import Foundation
import Synchronization

/// Reads lines from a terminal with editing and history.
final class TerminalLineReader: Sendable {
    private let editor = Mutex(LineEditor())
    private let prompt: String

    init(prompt: String = "you> ") {
        self.prompt = prompt
    }

    /// One edited line, or nil at Ctrl-D on an empty line or end of input.
    func readLine() -> String? {
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { return Swift.readLine(strippingNewline: true) }
        var raw = saved
        // No line buffering, echo, signals (Ctrl-C arrives as a byte), Ctrl-V or flow control; CR stays CR.
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | INLCR)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(STDIN_FILENO, TCSADRAIN, &raw)
        defer { tcsetattr(STDIN_FILENO, TCSADRAIN, &saved) }
        show(prompt)
        while true {
            var byte: UInt8 = 0
            guard read(STDIN_FILENO, &byte, 1) == 1 else {
                show("\r\n")
                return nil
            }
            let (action, rendering) = editor.withLock { editor in
                let action = editor.feed(byte)
                return (action, editor.rendering(prompt: prompt))
            }
            switch action {
            case .none:
                continue
            case .redraw:
                show(rendering)
            case .cancelled:
                show("^C\r\n" + prompt)
            case .submit(let line):
                show("\r\n")
                return line
            case .endOfInput:
                show("\r\n")
                return nil
            }
        }
    }

    private func show(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
