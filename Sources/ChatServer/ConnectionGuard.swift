// Per-connection watchdog on the event loop: closes a connection that stays idle too long (after a
// `* idle timeout` notice) and one whose output has been blocked too long (a client that never
// reads). It reads the session's phase from `ConnectionState`, which the async session updates.
import ChatCore
import NIOCore
import Synchronization

/// State shared between a connection's async session and its event-loop handlers.
final class ConnectionState: Sendable {
    /// Starts true: a new connection is busy until its banner is written.
    private let busyFlag = Atomic<Bool>(true)
    private let interruptFlag = Atomic<Bool>(false)
    /// Completed once the output side is shut (every queued byte sent) or the channel is gone.
    let outputClosed: EventLoopPromise<Void>

    init(eventLoop: any EventLoop) {
        outputClosed = eventLoop.makePromise()
    }

    /// Records a client's interrupt (telnet IAC IP): the reply in progress stops at its next piece.
    func interrupt() { interruptFlag.store(true, ordering: .relaxed) }

    /// True once per interrupt; clears it.
    func takeInterrupt() -> Bool { interruptFlag.exchange(false, ordering: .relaxed) }

    /// Whether someone is logged in (selects the longer idle timeout).
    var authenticated: Bool { principal != nil }

    /// Who is logged in, as the account check sees the session, and why the session was ended, if it was.
    private let account = Mutex<(principal: Principal?, end: SessionEnd?)>((nil, nil))

    /// The logged-in user (set by the session on login, `/passwd` and logout).
    var principal: Principal? {
        get { account.withLock { $0.principal } }
        set { account.withLock { $0.principal = newValue } }
    }

    /// The session's own `/passwd` succeeded: its principal carries the new credential, and an end the
    /// account check decided meanwhile for the password change (it saw the new hash beside the session's
    /// old one) is taken back.
    func passwordChanged(to updated: Principal) {
        account.withLock { state in
            state.principal = updated
            if state.end == .passwordChanged { state.end = nil }
        }
    }

    /// Why the server ended this session (its account changed); set once, by the registry.
    var sessionEnd: SessionEnd? { account.withLock { $0.end } }

    /// Marks the session ended unless it already was; returns whether this call did it.
    func end(_ reason: SessionEnd) -> Bool {
        account.withLock { state in
            guard state.end == nil else { return false }
            state.end = reason
            return true
        }
    }

    /// When the last answer was handed over (uptime nanoseconds); the idle clock starts then.
    private let answeredAt = Atomic<UInt64>(NIODeadline.now().uptimeNanoseconds)

    /// True while a client line is being answered (or the banner written): no unprompted notice may be
    /// written then, and the idle clock restarts when it turns false.
    var busy: Bool {
        get { busyFlag.load(ordering: .acquiring) }
        set {
            if !newValue { answeredAt.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed) }
            busyFlag.store(newValue, ordering: .releasing)
        }
    }

    /// When the session last finished answering (or the connection opened).
    var idleSince: NIODeadline { .uptimeNanoseconds(answeredAt.load(ordering: .relaxed)) }
}

/// The idle and stalled-output timeouts of one connection.
final class ConnectionGuardHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long an idle connection's notice may take to leave before the connection closes anyway.
    static let noticeGrace = TimeAmount.seconds(2)

    private let state: ConnectionState
    private let idleBeforeLogin: TimeAmount
    private let idleAfterLogin: TimeAmount
    private let stallTimeout: TimeAmount
    private let tick: TimeAmount
    private var lastRead = NIODeadline.now()
    private var blockedSince: NIODeadline?
    private var timer: RepeatedTask?

    init(
        state: ConnectionState, idleBeforeLogin: TimeAmount, idleAfterLogin: TimeAmount, stallTimeout: TimeAmount,
        tick: TimeAmount
    ) {
        self.state = state
        self.idleBeforeLogin = idleBeforeLogin
        self.idleAfterLogin = idleAfterLogin
        self.stallTimeout = stallTimeout
        self.tick = tick
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        state.outputClosed.succeed()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        state.outputClosed.succeed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .outputClosed { state.outputClosed.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        blockedSince = context.channel.isWritable ? nil : (blockedSince ?? .now())
        context.fireChannelWritabilityChanged()
    }

    private func start(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            let (handler, context) = loopBound.value
            handler.check(context: context)
        }
    }

    private func check(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if let blockedSince, now - blockedSince > stallTimeout {
            // The client stopped reading: drop it without waiting for buffers to drain.
            timer?.cancel()
            context.close(promise: nil)
            return
        }
        // Idle means: nothing read since the server last finished answering. Counting from the last read
        // alone would end a connection whose answer took longer than the limit (a long reply, a slow
        // banner on a loaded machine) the moment it was handed over, and could even put the notice ahead
        // of the answer's lines, which are still queued on their way to this event loop.
        let limit = state.authenticated ? idleAfterLogin : idleBeforeLogin
        if !state.busy, now - max(lastRead, state.idleSince) > limit {
            timer?.cancel()
            let notice = context.channel.allocator.buffer(string: "* idle timeout\n")
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(notice)).whenComplete { _ in channel.close(promise: nil) }
            // A TLS client that never began its handshake never receives the notice (TLS holds it back),
            // so the close cannot wait for the write alone.
            context.eventLoop.scheduleTask(in: Self.noticeGrace) { channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension ConnectionGuardHandler: Sendable {}
