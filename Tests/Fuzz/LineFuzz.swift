// libFuzzer entry point over the line protocol's input side: the telnet scanner and the framer (fed
// in chunks whose sizes the input chooses), UTF-8 and NUL checks, the command parser and `/paste`
// buffering. Any byte string must scan, frame, parse or be refused, never crash; the telnet scan must
// not depend on how the input is cut, and must leave input without IAC untouched; and the framed
// lines must equal an independent split of the whole input on LF (CR before LF dropped) whenever no
// line is too long.
// Built and run by deploy/fuzz.sh, not by `swift test`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLines(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let limit = 64
    let chunk = Int(data[0] % 16) + 1
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    var whole = TelnetScanner()
    let once = whole.scan(stream)
    var cut = TelnetScanner()
    var pieces = TelnetScanner.Result()
    for start in stride(from: 0, to: stream.count, by: chunk) {
        let part = cut.scan(stream[start..<min(stream.count, start + chunk)])
        pieces.text += part.text
        pieces.reply += part.reply
        pieces.interrupt = pieces.interrupt || part.interrupt
    }
    precondition(once == pieces, "the telnet scan depends on how the input is cut")
    precondition(stream.contains(0xFF) || once.text == stream, "input without IAC was changed")

    var framer = LineFramer()
    var unread: [UInt8] = []
    var lines: [[UInt8]] = []
    var tooLong = false
    var offset = 0
    while offset < stream.count {
        unread += stream[offset..<min(stream.count, offset + chunk)]
        offset += chunk
        stepping: while true {
            let step = unread.withUnsafeBytes { framer.step($0, limit: limit) }
            switch step {
            case .needMoreData:
                break stepping
            case .discard(let count):
                unread.removeFirst(count)
                break stepping
            case .tooLong(let count):
                tooLong = true
                unread.removeFirst(count)
                break stepping
            case .line(let length, let consumed):
                precondition(length <= limit + 1 && consumed <= unread.count, "a line past the limit")
                lines.append(Array(unread[..<length]))
                unread.removeFirst(consumed)
            }
        }
        precondition(unread.count <= limit + 1 + chunk, "the framer held more than the limit")
    }
    if framer.finish(remaining: unread.count) { lines.append(unread) }

    // The oracle: split the whole input at once.
    var expected = stream.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
    if expected.last?.isEmpty == true { expected.removeLast() }
    expected = expected.enumerated().map { index, line in
        let terminated = index < expected.count - 1 || stream.last == UInt8(ascii: "\n")
        return terminated && line.last == UInt8(ascii: "\r") ? Array(line.dropLast()) : line
    }
    if !tooLong {
        precondition(lines == expected, "framed lines differ from a plain split")
    } else {
        precondition(expected.contains { $0.count > limit }, "a line was refused though none was too long")
        precondition(Array(expected.prefix(lines.count)) == lines, "lines before the long one differ")
    }

    var paste: PasteBuffer?
    for bytes in lines {
        guard let line = String(validating: bytes, as: UTF8.self), !line.utf8.contains(0) else { continue }
        if paste != nil {
            switch paste?.add(line) {
            case .done, .tooLong: paste = nil
            default: break
            }
            continue
        }
        switch CommandParser.parse(line) {
        case .command(.paste): paste = PasteBuffer(limit: 256)
        case .message(let text): precondition(!text.isEmpty, "an empty message")
        case .empty: precondition(line.isEmpty, "a non-empty line parsed as empty")
        default: break
        }
    }
    return 0
}
