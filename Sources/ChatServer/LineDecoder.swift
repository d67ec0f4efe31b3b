// Framing of the client's byte stream into lines, with a bound that holds before the whole line has
// arrived: a client can never make us buffer more than the current limit (+ one read).
//
//   bytes:  | /log | in a b\r\nhel | lo\n |
//   frames: | .line("/login a b") | .line("hello") |
//   and once a line passes the limit without a LF: | .tooLong |, then every later byte is discarded.
//
// The limit lives in a shared atomic because the session raises it after `/login` (1 KiB → 16 KiB).
import NIOCore
import Synchronization

/// The current maximum line length of one connection, in bytes without the line end.
final class LineLimit: Sendable {
    private let bytes: Atomic<Int>

    init(_ bytes: Int) {
        self.bytes = Atomic(bytes)
    }

    var value: Int {
        get { bytes.load(ordering: .relaxed) }
        set { bytes.store(newValue, ordering: .relaxed) }
    }
}

/// One framed unit of input.
enum InboundFrame: Sendable {
    /// A line without its LF (and without the CR before it).
    case line(ByteBuffer)
    /// The client sent more than the limit without a line end; the connection must close.
    case tooLong
}

/// `ByteToMessageDecoder` splitting on LF with a moving bound; never rescans bytes it has seen.
struct BoundedLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrame

    let limit: LineLimit
    /// Bytes of the current partial line already searched for a LF.
    private var scanned = 0
    /// Set once `.tooLong` has been sent: from then on input is dropped.
    private var overflowed = false

    init(limit: LineLimit) {
        self.limit = limit
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if overflowed {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        let maximum = limit.value + 1  // room for a CR before the LF
        if let newline = view[(view.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            guard length <= maximum else { return overflow(context: context, buffer: &buffer) }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            scanned = 0
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        scanned = view.count
        if view.count > maximum { return overflow(context: context, buffer: &buffer) }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A last line without a LF (e.g. `printf '/quit' | nc`) still counts as a line.
        if !overflowed, buffer.readableBytes > 0, let line = buffer.readSlice(length: buffer.readableBytes) {
            scanned = 0
            context.fireChannelRead(wrapInboundOut(.line(line)))
        }
        return .needMoreData
    }

    private mutating func overflow(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        overflowed = true
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        context.fireChannelRead(wrapInboundOut(.tooLong))
        return .needMoreData
    }
}
