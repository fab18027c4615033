import Foundation
import Logging
import NIOCore
import NIOPosix
import TrialGateCore
import TrialGateService
import TrialGateStore

/// Serves one connection on its event loop: authenticate first, then one reply per request, in order.
///
/// Requests that need the store go to the worker threads; their answer comes back to this event loop with a single
/// hop, and the next pipelined request starts then. Nothing here blocks the loop.
///
/// What one connection can make the server hold is bounded whatever the client does. Received bytes wait unparsed
/// in `inbound`, and the handler stops asking the socket for more once `requestBufferBytes` wait (or a line's
/// worth, if longer). Replies go out only while the channel is writable: once `replyBufferBytes` of them wait for a
/// client that does not read, the next request is not started, so its bytes stay in `inbound`, which stops the reading.
/// The deadlines (`ConnectionDeadlines`) and the strike count close connections that hold a slot without using it.
final class ProtocolHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Replies are flushed at least this often within one burst, so that writability reflects them (a TLS handler
    /// keeps unflushed plaintext of its own, which the channel does not count).
    static let flushEvery = 16 * 1024
    /// How long a connection closed for misbehaving (refused, evicted, timed out, too many errors) waits for the
    /// client's side to close: long enough for a client that reads to see why, short enough that a flood is not read for long.
    static let refusalLinger: TimeAmount = .milliseconds(200)

    let server: LineServer
    let workers: Workers
    let config: ServerConfiguration
    var framer: LineFramer
    /// Received bytes not framed yet.
    var inbound = ByteBuffer()
    /// The client's line protocol: authentication, strikes, parsing and every reply line (`LineProtocol`).
    var session: LineProtocol?
    /// Where the connection is in its life (`Phase`): what it does with the bytes that arrive and the replies it owes.
    var phase = Phase.serving(inFlight: false)
    /// Where it stands with the server's connection table.
    var admission = Admission.outside
    var peer = Peer(name: "?", source: .local)
    // The channel's flow, beside the phase: the client's half-close can come in any phase, and a held read is the
    // pipeline's bookkeeping.
    /// The client half-closed: answer what it sent, then close.
    var inputClosed = false
    /// The pipeline asked for a read that was held back because enough is buffered.
    var readHeld = false
    var unflushed = 0
    var deadlines: ConnectionDeadlines
    var timer: Scheduled<Void>?

    init(server: LineServer, workers: Workers) {
        self.server = server
        self.workers = workers
        config = server.config
        framer = LineFramer(maxLength: server.config.maxLineBytes)
        deadlines = ConnectionDeadlines(opened: .uptimeNanoseconds(0), authTimeout: server.config.authTimeout, idleTimeout: server.config.idleTimeout)
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = Peer(context.channel.remoteAddress)
        guard server.state.open(context.channel, from: peer.source) else {
            server.logger.warning("connection refused: too many connections or draining", metadata: ["peer": "\(peer)"])
            finish(context, last: LineServer.line(.tooManyConnections, "the server is at its connection limit or shutting down; try again later"),
                   linger: Self.refusalLinger)
            return
        }
        admission = .unauthenticated
        session = server.lineProtocol(peer: peer)
        deadlines = ConnectionDeadlines(opened: context.eventLoop.now, authTimeout: config.authTimeout, idleTimeout: config.idleTimeout)
        checkDeadlines(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if admission.isCounted { server.state.close(context.channel) }
        // A read running on the thread pool closes the store when it finishes, never under it.
        if let subscription = phase.subscription {
            if subscription.pumping { subscription.closeWhenRead = true } else { subscription.closeStore() }
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A closing connection drops what arrives; a subscribed one only streams.
        guard admission.isCounted, phase.readsRequests else { return }
        var bytes = unwrapInboundIn(data)
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            if inbound.readerIndex > config.requestBufferBytes { inbound.discardReadBytes() }
            inbound.writeBuffer(&bytes)
        }
        processPending(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            // The client took replies: it is not idle, and requests waiting on it can go on.
            deadlines.active(at: context.eventLoop.now)
            switch phase {
            case .streaming: pump(context: context)
            case .serving, .draining: processPending(context: context)
            case .closing: break
            }
        }
        context.fireChannelWritabilityChanged()
    }

    /// Holds back the socket's next read while enough of this client's bytes wait (see the type's comment).
    func read(context: ChannelHandlerContext) {
        if wantsInput { context.read() } else { readHeld = true }
    }

    var wantsInput: Bool {
        switch phase {
        case .closing(let discardingInput, _): discardingInput
        case .streaming: true
        case .serving, .draining: inbound.readableBytes <= max(config.requestBufferBytes, config.maxLineBytes)
        }
    }

    func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, wantsInput else { return }
        readHeld = false
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if phase.isClosing {
                context.close(promise: nil)
                return
            }
            // A last line without a newline still counts.
            if inbound.readableBytes > 0 { inbound.writeInteger(UInt8(ascii: "\n")) }
            processPending(context: context)
            return
        }
        if let event = event as? ConnectionEvent {
            switch event {
            case .draining:
                switch phase {
                case .streaming: finish(context, linger: config.closeLinger)
                case .serving(let inFlight):
                    phase = .draining(inFlight: inFlight)
                    processPending(context: context)
                case .draining, .closing: break
                }
            case .evicted:
                admission = .outside
                server.logger.debug("connection evicted: unauthenticated connection limit", metadata: ["peer": "\(peer)"])
                finish(context, last: LineServer.line(.tooManyConnections,
                    "closed to make room: connections that have not authenticated are limited to \(config.unauthenticatedLimit), and to \(config.maxUnauthenticatedPerSource) from one address"),
                       linger: Self.refusalLinger)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        server.logger.debug("connection error", metadata: ["peer": "\(peer)", "error": .untrusted(error)])
        context.close(promise: nil)
    }

    // MARK: Requests

    /// Answers buffered requests until one needs a worker, the client stops taking replies, or the connection
    /// changes state; then decides whether to close and whether to read on.
    func processPending(context: ChannelHandlerContext) {
        var answered = false
        while phase.readsRequests, !phase.inFlight, phase.isDraining || context.channel.isWritable, let frame = framer.next(&inbound) {
            answered = true
            if phase.isDraining {
                emit(context, LineServer.line(.shuttingDown, "the server is shutting down; this request was not run", id: Self.requestID(frame)))
                continue
            }
            guard var protocolState = session else { return }
            let action = protocolState.receive(frame)
            session = protocolState
            switch action {
            case .none:
                continue
            case .welcome(let reply, _):
                emit(context, LineServer.line(reply))
                if case .unauthenticated = admission {
                    admission = .authenticated
                    server.state.authenticated(context.channel)
                    deadlines.authenticated()
                }
            case .refuse(let reply, .continue):
                emit(context, LineServer.line(reply))
            case .refuse(let reply, .close):
                finish(context, last: LineServer.line(reply), linger: Self.refusalLinger, graceful: false)
                return
            case .run(let request):
                guard start(request, replier: protocolState, context: context) else { return }
            case .subscribe(let from, let ack):
                guard let principal = protocolState.principal else {
                    assertionFailure("a subscription without a principal")
                    finish(context, linger: Self.refusalLinger, graceful: false)
                    return
                }
                startSubscription(context: context, principal: principal, ack: ack, from: from)
            }
        }
        settle(context: context, answered: answered)
    }

    /// Runs a request on a worker; its reply comes back to this event loop (`finished`). False when the connection
    /// closed instead.
    private func start(_ request: Request, replier: LineProtocol, context: ChannelHandlerContext) -> Bool {
        // A connection's protocol runs requests as the principal that authenticated, never as the host.
        guard case .principal(let principal) = request.caller else {
            assertionFailure("a served connection's request without a principal")
            finish(context, linger: Self.refusalLinger, graceful: false)
            return false
        }
        phase = .serving(inFlight: true)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        // The reply is built on the event loop: the writer thread is the one that must not wait.
        workers.run(request.command, as: principal, on: context.eventLoop) { [self] result in
            let encoded = result.map { answer -> [UInt8] in
                switch answer {
                case .encoded(let bytes): bytes
                case .value(let value): CanonicalJSON.encode(value)
                }
            }
            self.finished(LineServer.line(replier.reply(to: encoded, for: request)), context: bound.value)
        }
        return true
    }

    /// After answering what could be answered: the idle clock, flushing, closing once everything owed is answered
    /// (shutdown, or the client's half-close), and reading on.
    private func settle(context: ChannelHandlerContext, answered: Bool) {
        if answered { deadlines.active(at: context.eventLoop.now) }
        if inbound.readableBytes == 0 { inbound = ByteBuffer() }
        switch phase {
        case .closing: return
        case .streaming: flush(context)
        case .serving(inFlight: true), .draining(inFlight: true): break
        case .serving(inFlight: false), .draining(inFlight: false):
            flush(context)
            if phase.isDraining || (inputClosed && context.channel.isWritable) {
                finish(context, linger: config.closeLinger)
                return
            }
        }
        resumeReading(context: context)
    }

    func finished(_ reply: ByteBuffer, context: ChannelHandlerContext) {
        phase = phase.answered
        guard context.channel.isActive else { return }
        emit(context, reply)
        deadlines.active(at: context.eventLoop.now)
        processPending(context: context)
        flush(context)
    }

    /// The `id` of a request that will not be run, for its `shutting_down` reply.
    static func requestID(_ frame: Frame) -> JSONValue? {
        guard case .line(let bytes) = frame, let request = try? JSONParser.parse(bytes) else { return nil }
        return request["id"]
    }

    func emit(_ context: ChannelHandlerContext, _ line: ByteBuffer) {
        unflushed += line.readableBytes
        context.write(wrapOutboundOut(line), promise: nil)
        if unflushed >= Self.flushEvery { flush(context) }
    }

    func flush(_ context: ChannelHandlerContext) {
        unflushed = 0
        context.flush()
    }
}
