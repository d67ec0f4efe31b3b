// The terminal side of `enclave chat`: raw mode with bracketed paste for the whole session (restored on
// exit), EnclaveClient's `LineEditor` fed with every key byte, and the keys typed while a reply streams
// kept out of that reply: they go to the editor (and Enter queues the line) without being shown, and
// appear in the next prompt. Ctrl-C during a reply asks the server to stop it; at the prompt it
// abandons the line. Output keeps the terminal's own newline handling (OPOST stays on).
import EnclaveClient
import Foundation
import Synchronization

/// `ChatInput` for a person at a terminal.
final class TerminalInput: ChatInput, Sendable {
    private struct State {
        var editor = LineEditor()
        /// Lines submitted while a reply was streaming, to send next.
        var queued: [String] = []
        var replying = false
        var interrupt: (@Sendable () -> Void)?
        var raw = false
    }

    private let state = Mutex(State())
    private let saved: termios
    private let prompt: String
    /// Signalled when the key reader of a reply has stopped reading.
    private let readerStopped = DispatchSemaphore(value: 0)

    init(prompt: String = "you> ") {
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        self.saved = saved
        self.prompt = prompt
    }

    /// Puts the terminal back as it was (call on every way out).
    func restore() {
        guard state.withLock({ $0.raw }) else { return }
        show("\u{1B}[?2004l")
        var saved = saved
        tcsetattr(STDIN_FILENO, TCSADRAIN, &saved)
    }

    func readSecret(prompt: String) -> String? { Terminal.readSecret(prompt: prompt) }

    func nextLine() -> String? {
        enterRawMode()
        let (queued, rendering) = state.withLock { state in
            (state.queued.isEmpty ? nil : state.queued.removeFirst(), state.editor.rendering(prompt: prompt))
        }
        if let queued {
            show(LineEditorShow.echo(queued, prompt: prompt))
            return queued
        }
        show(rendering)
        while true {
            var byte: UInt8 = 0
            guard read(STDIN_FILENO, &byte, 1) == 1 else {
                show("\r\n")
                return nil
            }
            let (action, rendering) = state.withLock { state in
                let action = state.editor.feed(byte)
                return (action, state.editor.rendering(prompt: prompt))
            }
            switch action {
            case .none: continue
            case .redraw: show(rendering)
            case .cancelled: show("^C\r\n" + prompt)
            case .submit(let line):
                show("\r\n")
                return line
            case .endOfInput:
                show("\r\n")
                return nil
            }
        }
    }

    func replyStarted(interrupt: @escaping @Sendable () -> Void) {
        state.withLock {
            $0.replying = true
            $0.interrupt = interrupt
        }
        Thread { [self] in
            readDuringReply()
            readerStopped.signal()
        }.start()
    }

    func replyEnded() {
        state.withLock {
            $0.replying = false
            $0.interrupt = nil
        }
        readerStopped.wait()
    }

    /// Reads keys while a reply streams, without showing them: Ctrl-C interrupts, the rest is typed ahead.
    private func readDuringReply() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while state.withLock({ $0.replying }) {
            var poller = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let count = read(STDIN_FILENO, &buffer, buffer.count)
            guard count > 0 else { return }
            let interrupt = state.withLock { (state: inout State) -> (@Sendable () -> Void)? in
                var interrupted = false
                for byte in buffer[..<count] {
                    if byte == 0x03 {
                        interrupted = true
                    } else if case .submit(let line) = state.editor.feed(byte), !line.isEmpty {
                        state.queued.append(line)
                    }
                }
                return interrupted ? state.interrupt : nil
            }
            interrupt?()
        }
    }

    private func enterRawMode() {
        guard !state.withLock({ $0.raw }) else { return }
        var raw = saved
        // No line buffering, echo, signals (Ctrl-C arrives as a byte), Ctrl-V or flow control; CR stays CR.
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | INLCR)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0 else { return }
        state.withLock { $0.raw = true }
        show("\u{1B}[?2004h")
    }

    private func show(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// How a line typed ahead during a reply is shown when it is sent.
enum LineEditorShow {
    static func echo(_ line: String, prompt: String) -> String {
        var editor = LineEditor()
        _ = editor.feed(Array("\u{1B}[200~".utf8) + Array(line.utf8) + Array("\u{1B}[201~".utf8))
        return editor.rendering(prompt: prompt) + "\r\n"
    }
}
