// The telnet scanner (TelnetScanner.swift) in the connection's pipeline, before the line framing:
// text passes on, command answers go straight back, interrupts are flagged for the session.
import NIOCore

/// Strips telnet commands from the inbound bytes before framing, answers them, and flags interrupts on
/// the connection's state (read by the session between pieces of a streamed reply).
final class TelnetHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let state: ConnectionState
    private var scanner = TelnetScanner()

    init(state: ConnectionState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if scanner.passesUnchanged(buffer.readableBytesView) {
            context.fireChannelRead(data)
            return
        }
        let result = scanner.scan(buffer.readableBytesView)
        if result.interrupt { state.interrupt() }
        if !result.reply.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: result.reply)), promise: nil)
        }
        if !result.text.isEmpty {
            context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: result.text)))
        }
    }
}

@available(*, unavailable)
extension TelnetHandler: Sendable {}
