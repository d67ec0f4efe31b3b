// Framing of the client's byte stream into lines, with a bound that holds before the whole line has
// arrived: a client can never make us buffer more than the current limit (+ one read).
//
//   bytes:  | /log | in a b\r\nhel | lo\n |
//   frames: | .line("/login a b") | .line("hello") |
//   and once a line passes the limit without a LF: | .tooLong |, then every later byte is discarded.
//
// The framing rules are the pure `LineFramer` (LineFramer.swift), which the libFuzzer target also runs.
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

/// `ByteToMessageDecoder` splitting on LF with a moving bound; the framing itself is `LineFramer`.
struct BoundedLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrame

    let limit: LineLimit
    private var framer = LineFramer()

    init(limit: LineLimit) {
        self.limit = limit
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let limit = limit.value
        let step = buffer.withUnsafeReadableBytes { framer.step($0, limit: limit) }
        switch step {
        case .needMoreData:
            return .needMoreData
        case .discard(let count):
            buffer.moveReaderIndex(forwardBy: count)
            return .needMoreData
        case .tooLong(let count):
            buffer.moveReaderIndex(forwardBy: count)
            context.fireChannelRead(wrapInboundOut(.tooLong))
            return .needMoreData
        case .line(let length, let consumed):
            let line = buffer.getSlice(at: buffer.readerIndex, length: length)!
            buffer.moveReaderIndex(forwardBy: consumed)
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A last line without a LF (e.g. `printf '/quit' | nc`) still counts as a line.
        let length = buffer.readableBytes
        if framer.finish(remaining: length), let line = buffer.readSlice(length: length) {
            context.fireChannelRead(wrapInboundOut(.line(line)))
        }
        return .needMoreData
    }
}
