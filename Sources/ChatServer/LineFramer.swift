// The framing rules of the line protocol as a pure state machine over the unread bytes of a
// connection, without NIO, so the socket decoder (LineDecoder.swift) and the libFuzzer target
// (Tests/Fuzz/LineFuzz.swift) run the same code. A line ends at LF; a CR right before the LF is
// dropped; a line longer than the limit (plus one byte for that CR) ends the connection's input,
// and it is detected before its LF arrives, so at most `limit + 1` bytes plus one read are held.

/// Splits a byte stream into lines; remembers how far it has searched so bytes are scanned once.
struct LineFramer {
    /// What to do with the unread bytes.
    enum Step: Equatable {
        /// No complete line yet; keep the bytes and wait for more.
        case needMoreData
        /// A line: its first `length` bytes (without CR and LF); `consumed` bytes are used up.
        case line(length: Int, consumed: Int)
        /// The line passed the limit: report it once and drop `count` bytes; every later byte is dropped.
        case tooLong(count: Int)
        /// Input after an over-long line: drop `count` bytes.
        case discard(count: Int)
    }

    /// Bytes of the current partial line already searched for a LF.
    private(set) var scanned = 0
    /// Set once a line was too long.
    private(set) var overflowed = false

    /// The next step for `bytes`, the unread input (the caller removes what a step uses up).
    mutating func step(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Step {
        if overflowed { return .discard(count: bytes.count) }
        let maximum = limit + 1  // room for a CR before the LF
        let start = min(scanned, bytes.count)
        if let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            guard newline <= maximum else { return overflow(bytes.count) }
            scanned = 0
            let length = newline > 0 && bytes[newline - 1] == UInt8(ascii: "\r") ? newline - 1 : newline
            return .line(length: length, consumed: newline + 1)
        }
        scanned = bytes.count
        return bytes.count > maximum ? overflow(bytes.count) : .needMoreData
    }

    /// At end of input: true when the `remaining` unterminated bytes still count as a last line.
    mutating func finish(remaining: Int) -> Bool {
        scanned = 0
        return !overflowed && remaining > 0
    }

    private mutating func overflow(_ count: Int) -> Step {
        overflowed = true
        return .tooLong(count: count)
    }
}
