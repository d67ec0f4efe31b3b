// The telnet scanner against RFC 854 (command bytes, IAC IAC, subnegotiation) and RFC 860
// (TIMING-MARK), with the byte values written out from the RFCs, not taken from the code.
import Testing

@testable import ChatServer

@Suite struct TelnetScannerTests {
    @Test func textWithoutIACPassesUnchanged() {
        var scanner = TelnetScanner()
        let text = Array("héllo\r\n".utf8)
        #expect(scanner.passesUnchanged(text))
        #expect(scanner.scan(text) == .init(text: text))
    }

    @Test func ctrlCFromTelnetIsAnInterruptAndItsTimingMarkIsAnswered() {
        var scanner = TelnetScanner()
        // "ab", IAC IP, IAC DO TIMING-MARK(6), "c"
        let result = scanner.scan([0x61, 0x62, 255, 244, 255, 253, 6, 0x63])
        #expect(result.text == [0x61, 0x62, 0x63])
        #expect(result.reply == [255, 251, 6])  // IAC WILL TIMING-MARK
        #expect(result.interrupt)
    }

    @Test func optionsAreRefusedAndRefusalsNotAnswered() {
        var scanner = TelnetScanner()
        // IAC DO ECHO(1), IAC WILL SUPPRESS-GO-AHEAD(3), IAC WONT 1, IAC DONT 3
        let result = scanner.scan([255, 253, 1, 255, 251, 3, 255, 252, 1, 255, 254, 3])
        #expect(result.text.isEmpty)
        #expect(result.reply == [255, 252, 1, 255, 254, 3])  // IAC WONT ECHO, IAC DONT SGA
        #expect(!result.interrupt)
    }

    @Test func commandsCutAcrossReadsAndAnEscapedIAC() {
        var scanner = TelnetScanner()
        // "x", IAC DO ECHO (cut after DO), "y", IAC IAC (cut between the two).
        let first = scanner.scan([0x78, 255, 253])
        #expect(!scanner.passesUnchanged([0x41]))
        let second = scanner.scan([1, 0x79, 255])
        let third = scanner.scan([255])
        #expect(first.text == [0x78] && first.reply.isEmpty)
        #expect(second.text == [0x79] && second.reply == [255, 252, 1])
        #expect(third.text == [255])
        #expect(scanner.passesUnchanged([0x41]))
    }

    @Test func malformedCommandsStayTextAndNeverSwallowALineEnd() {
        var scanner = TelnetScanner()
        // "h" IAC DONT LF: LF is no option here, so the line ends and is not UTF-8 (bad-encoding).
        #expect(scanner.scan([0x68, 255, 254, 0x0A]) == .init(text: [0x68, 255, 254, 0x0A]))
        // IAC followed by a byte that is not a command (below 0xF0).
        #expect(scanner.scan([255, 0x41, 0x0A]) == .init(text: [255, 0x41, 0x0A]))
    }

    @Test func abortOutputAndBreakInterruptToo() {
        for command: UInt8 in [245, 243] {
            var scanner = TelnetScanner()
            #expect(scanner.scan([255, command]).interrupt, "command \(command)")
        }
        var scanner = TelnetScanner()
        #expect(!scanner.scan([255, 241, 255, 246]).interrupt)  // NOP, AYT
    }
}
