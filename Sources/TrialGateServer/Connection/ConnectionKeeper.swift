import Logging
import NIOConcurrencyHelpers
import NIOCore
import TrialGateService

/// What a served connection's task reads, in order: the client's bytes, and the server's shutdown.
enum ConnectionInput: Sendable {
    case bytes(ByteBuffer)
    /// The server is shutting down: answer what was read, then close.
    case draining
}

/// The clock a served connection runs against, shared by its task (which reports activity) and its keeper (which
/// closes it when a deadline passes, even while the task waits on a client that does not read).
struct ConnectionClock: Sendable {
    var deadlines: ConnectionDeadlines
    /// A request is being worked on, or the connection streams: it is not idle (it must still authenticate in time).
    var idleExempt = false
}

/// The part of a served connection that must act whatever its task is waiting for: it closes the connection when the
/// authentication deadline or the idle timeout passes and when the server evicts it to make room, and it hands the
/// server's shutdown to the task in order with the bytes (`ConnectionInput`). Once it closes the connection, what the
/// client still sends is dropped. Everything else about a connection is its task's (`ServedConnection`).
final class ConnectionKeeper: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ConnectionInput
    typealias OutboundOut = ByteBuffer

    /// How long a connection closed for misbehaving (refused, evicted, timed out, too many errors) waits for the
    /// client's side to close: long enough for a client that reads to see why, short enough that a flood is not read for long.
    static let refusalLinger: TimeAmount = .milliseconds(200)

    let clock: NIOLockedValueBox<ConnectionClock>
    private let config: ServerConfiguration
    private let logger: Logger
    private let peer: Peer
    // Used on the event loop only.
    private var timer: Scheduled<Void>?
    private var closing = false

    init(clock: NIOLockedValueBox<ConnectionClock>, config: ServerConfiguration, logger: Logger, peer: Peer) {
        self.clock = clock
        self.config = config
        self.logger = logger
        self.peer = peer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { checkDeadlines(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        checkDeadlines(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        context.fireChannelRead(wrapInboundOut(.bytes(unwrapInboundIn(data))))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event as? ConnectionEvent {
        case .draining:
            context.fireChannelRead(wrapInboundOut(.draining))
            context.fireChannelReadComplete()
        case .evicted:
            logger.debug("connection evicted: unauthenticated connection limit", metadata: ["peer": "\(peer)"])
            close(context, last: LineServer.line(.tooManyConnections,
                "closed to make room: connections that have not authenticated are limited to \(config.unauthenticatedLimit), and to \(config.maxUnauthenticatedPerSource) from one address"))
        case nil:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Closes the connection if it has overstayed its authentication deadline or idle timeout, else looks again when
    /// the next one is due.
    private func checkDeadlines(context: ChannelHandlerContext) {
        guard !closing else { return }
        let now = context.eventLoop.now
        switch clock.withLockedValue({ $0.deadlines.check(at: now, idleExempt: $0.idleExempt) }) {
        case .expired(.authentication):
            logger.debug("connection closed: not authenticated in time", metadata: ["peer": "\(peer)"])
            close(context, last: LineServer.line(.authTimeout,
                "no successful auth within \(config.authTimeout.nanoseconds / 1_000_000) ms of connecting; the connection is closed"))
        case .expired(.idle):
            logger.debug("connection closed: idle", metadata: ["peer": "\(peer)"])
            close(context, last: LineServer.line(.idleTimeout,
                "no complete request for \(config.idleTimeout.nanoseconds / 1_000_000) ms; the connection is closed"))
        case .wait(let until):
            let bound = NIOLoopBound((keeper: self, context: context), eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(deadline: until) { bound.value.keeper.checkDeadlines(context: bound.value.context) }
        }
    }

    /// Sends `last` after what was already written, closes our side once it is out, and the connection when the
    /// client closes its side or after `refusalLinger`, dropping what the client still sends.
    private func close(_ context: ChannelHandlerContext, last: ByteBuffer) {
        guard !closing else { return }
        closing = true
        timer?.cancel()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(last)).whenComplete { _ in
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
        timer = context.eventLoop.scheduleTask(in: Self.refusalLinger) { channel.close(promise: nil) }
    }
}
