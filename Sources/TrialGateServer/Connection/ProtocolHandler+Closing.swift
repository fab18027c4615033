import Foundation
import Logging
import NIOCore
import NIOPosix
import TrialGateCore
import TrialGateService
import TrialGateStore

/// How a connection ends: its last replies, half-closing, lingering, and the deadlines that close an idle one.
extension ProtocolHandler {
    /// Sends `last` after everything already written, then closes. Gracefully, our side closes once that is out and the
    /// connection when the client closes its side or after `linger`, reading and dropping what the client still sends;
    /// otherwise (a client flooding bad requests, whose bytes are not worth reading) the connection closes as soon as
    /// `last` is out, or after `linger` if the client does not take it.
    func finish(_ context: ChannelHandlerContext, last: ByteBuffer? = nil, linger: TimeAmount, graceful: Bool = true) {
        guard !phase.isClosing else { return }
        phase = .closing(discardingInput: graceful, subscription: phase.subscription)
        timer?.cancel()
        inbound = ByteBuffer()
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(last ?? ByteBuffer()), promise: written)
        unflushed = 0
        let halfClose = graceful && !inputClosed
        written.futureResult.whenComplete { _ in
            if !halfClose {
                channel.close(promise: nil)
            } else {
                channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
            }
        }
        timer = context.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
        resumeReading(context: context)
    }

    /// Closes the connection if it has overstayed its authentication deadline or idle timeout, else checks again when
    /// the next one is due.
    func checkDeadlines(context: ChannelHandlerContext) {
        let idleExempt: Bool
        switch phase {
        case .closing: return
        case .serving(let inFlight), .draining(let inFlight): idleExempt = inFlight
        case .streaming: idleExempt = true
        }
        switch deadlines.check(at: context.eventLoop.now, idleExempt: idleExempt) {
        case .expired(.authentication):
            server.logger.debug("connection closed: not authenticated in time", metadata: ["peer": "\(peer)"])
            finish(context, last: LineServer.line(.authTimeout,
                "no successful auth within \(config.authTimeout.nanoseconds / 1_000_000) ms of connecting; the connection is closed"), linger: Self.refusalLinger)
        case .expired(.idle):
            server.logger.debug("connection closed: idle", metadata: ["peer": "\(peer)"])
            finish(context, last: LineServer.line(.idleTimeout,
                "no complete request for \(config.idleTimeout.nanoseconds / 1_000_000) ms; the connection is closed"), linger: Self.refusalLinger)
        case .wait(let until):
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(deadline: until) { [self] in checkDeadlines(context: bound.value) }
        }
    }
}
