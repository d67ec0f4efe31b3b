// Telnet's in-band commands (RFC 854), so `telnet host 7878` is a usable client. Telnet puts commands
// in the byte stream behind IAC (0xFF); UTF-8 never contains 0xFF, so taking IAC as a command costs a
// plain `nc` client nothing. The scanner removes the commands from the text, refuses every option (the
// connection stays in telnet's default line mode), answers DO TIMING-MARK (which telnet sends with
// Ctrl-C and then discards all output until it is answered: unanswered, the session looks frozen), and
// reports Interrupt Process / Abort Output / Break as an interrupt: the reply in progress stops.
// `enclave chat` sends the same IAC IP for Ctrl-C.
//
// Only well-formed commands are taken: IAC and a command byte (0xF0-0xFF), and an option verb's
// option byte is never CR or LF. Anything else stays text, so a line of other bytes behind 0xFF is
// still answered `ERR bad-encoding` (PROTOCOL.md) and no line end is ever swallowed. Subnegotiation
// (SB) is not followed: it only comes after an option is agreed, and none ever is.
//
//   in:    h i IAC IP IAC DO TM \n        in:  IAC WILL ECHO x        in:   h IAC DONT \n
//   text:  h i \n                         text: x                    text: h IAC DONT \n
//   reply: IAC WILL TM; interrupt         reply: IAC DONT ECHO       (a bad-encoding line)
//
// Pure (no NIO), so the libFuzzer target runs it; the pipeline handler is TelnetHandler.swift.

/// The telnet command bytes the scanner knows (RFC 854, RFC 860 for TIMING-MARK).
enum Telnet {
    static let iac: UInt8 = 0xFF
    static let dont: UInt8 = 0xFE
    static let doOption: UInt8 = 0xFD
    static let wont: UInt8 = 0xFC
    static let will: UInt8 = 0xFB
    static let interruptProcess: UInt8 = 0xF4
    static let abortOutput: UInt8 = 0xF5
    static let breakKey: UInt8 = 0xF3
    /// The lowest command byte (SE).
    static let firstCommand: UInt8 = 0xF0
    static let timingMark: UInt8 = 0x06

    /// The bytes a client sends to stop the reply in progress (IAC IP).
    static let interrupt: [UInt8] = [iac, interruptProcess]
}

/// A pure state machine that separates text from telnet commands, across reads.
struct TelnetScanner {
    private enum State {
        case text
        case command
        case option(UInt8)
    }

    private var state = State.text

    /// What one read held besides its text.
    struct Result: Equatable {
        /// The text bytes, commands removed (an escaped IAC IAC stays as one 0xFF).
        var text: [UInt8] = []
        /// Bytes to send back (option refusals, the TIMING-MARK answer).
        var reply: [UInt8] = []
        /// True when the read held an interrupt (IP, AO, BRK).
        var interrupt = false
    }

    /// True when `bytes` can pass unchanged: no command is open and none starts in them.
    func passesUnchanged(_ bytes: some Sequence<UInt8>) -> Bool {
        if case .text = state { return !bytes.contains(Telnet.iac) }
        return false
    }

    mutating func scan(_ bytes: some Sequence<UInt8>) -> Result {
        var result = Result()
        for byte in bytes {
            switch state {
            case .text:
                if byte == Telnet.iac { state = .command } else { result.text.append(byte) }
            case .command:
                state = .text
                switch byte {
                case Telnet.iac: result.text.append(byte)
                case Telnet.will, Telnet.wont, Telnet.doOption, Telnet.dont: state = .option(byte)
                case Telnet.interruptProcess, Telnet.abortOutput, Telnet.breakKey: result.interrupt = true
                case Telnet.firstCommand...: break  // NOP, DM, GA, AYT, EC, EL, SB, SE: nothing to do in line mode
                default: result.text += [Telnet.iac, byte]  // not a command: the bytes stay text
                }
            case .option(let verb):
                state = .text
                if byte == 0x0A || byte == 0x0D {
                    result.text += [Telnet.iac, verb, byte]
                } else {
                    result.reply += Self.answer(verb, option: byte)
                }
            }
        }
        return result
    }

    /// The answer to an option request: TIMING-MARK is acknowledged (everything before it has been
    /// read), every other option refused; refusals are never answered, so two peers cannot loop.
    private static func answer(_ verb: UInt8, option: UInt8) -> [UInt8] {
        switch verb {
        case Telnet.doOption where option == Telnet.timingMark: [Telnet.iac, Telnet.will, option]
        case Telnet.doOption: [Telnet.iac, Telnet.wont, option]
        case Telnet.will: [Telnet.iac, Telnet.dont, option]
        default: []
        }
    }
}
