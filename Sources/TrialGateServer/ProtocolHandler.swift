import Foundation
import Logging
import NIOCore
import NIOPosix
import TrialGateCore
import TrialGateService
import TrialGateStore

/// Serves one connection on its event loop: authenticate first, then one reply per request, in order.
///
/// Requests that need the store go to the worker threads; their answer comes back to this event loop
/// with a single hop, and the next pipelined request starts then. Nothing here blocks the loop.
final class ProtocolHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer

    private let server: LineServer
    private let workers: Workers
    private var principal: Principal?
    private var pending = CircularBuffer<Frame>()
    private var busy = false
    private var peer = "?"
    private var registered = false
    /// The client half-closed: answer what it sent, then close.
    private var inputClosed = false
    /// Reading pauses while this many requests wait, so a client that pipelines without reading its
    /// replies cannot make the server buffer without bound.
    private static let pauseAt = 256
    private static let resumeAt = 32
    private var paused = false
    // Subscription state.
    private var subscription: (store: EventStore?, last: Int64, quietSince: NIODeadline, pumping: Bool)?
    /// A subscriber's store whose connection ended while a read on it was running on the thread pool: closed
    /// when that read finishes, never under it.
    private var storeToClose: EventStore?

    init(server: LineServer, workers: Workers) {
        self.server = server
        self.workers = workers
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = LineServer.peerName(context.channel)
        guard server.state.open(context.channel, limit: server.config.maxConnections) else {
            server.logger.warning("connection refused: too many connections or draining", metadata: ["peer": "\(peer)"])
            flushAndClose(context, LineServer.line(LineServer.error(nil, "too_many_connections",
                "the server is at its connection limit or shutting down; try again later")))
            return
        }
        registered = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if registered { server.state.close(context.channel) }
        if let store = subscription?.store {
            subscription?.store = nil
            if subscription?.pumping == true { storeToClose = store } else { store.close() }
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard registered, subscription == nil else { return }
        pending.append(unwrapInboundIn(data))
        if pending.count >= Self.pauseAt, !paused {
            paused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        processPending(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, subscription != nil { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            closeIfDone(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Writes `last`, flushes everything, then closes.
    private func flushAndClose(_ context: ChannelHandlerContext, _ last: ByteBuffer = ByteBuffer()) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(last)).whenComplete { _ in channel.close(promise: nil) }
    }

    private func closeIfDone(context: ChannelHandlerContext) {
        guard inputClosed, !busy, pending.isEmpty, subscription == nil else { return }
        flushAndClose(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        server.logger.debug("connection error", metadata: ["peer": "\(peer)", "error": "\(error)"])
        context.close(promise: nil)
    }

    /// Answers queued requests until one needs a worker (or the connection changes state).
    private func processPending(context: ChannelHandlerContext) {
        while !busy, subscription == nil, context.channel.isActive, let frame = pending.popFirst() {
            switch server.step(frame, principal: principal, peer: peer) {
            case .reply(let reply, let next):
                if let reply { context.write(wrapOutboundOut(LineServer.line(reply)), promise: nil) }
                switch next {
                case .continue(let p): principal = p
                case .close:
                    flushAndClose(context)
                    return
                }
            case .run(let command, let id, let cmd):
                guard let principal else { return }
                busy = true
                _ = server.state.setBusy(context.channel, true)
                let loop = context.eventLoop
                let bound = NIOLoopBound(context, eventLoop: loop)
                let peer = self.peer
                // The reply is built on the event loop: the writer thread is the one that must not wait.
                workers.run(command, as: principal, on: loop) { [self] result in
                    self.finished(self.server.replyLine(to: result, id: id, cmd: cmd, principal: principal, peer: peer), context: bound.value)
                }
            case .subscribe(let id, let from):
                startSubscription(context: context, id: id, from: from)
            }
        }
        if paused, pending.count <= Self.resumeAt {
            paused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            context.read()
        }
        if !busy {
            context.flush()
            closeIfDone(context: context)
        }
    }

    private func finished(_ reply: ByteBuffer, context: ChannelHandlerContext) {
        busy = false
        guard context.channel.isActive else { return }
        context.write(wrapOutboundOut(reply), promise: nil)
        if !server.state.setBusy(context.channel, false) {
            // Draining: this was the in-flight request; answer it, then close.
            flushAndClose(context)
            return
        }
        processPending(context: context)
        context.flush()
    }

    // MARK: Subscriptions

    private func startSubscription(context: ChannelHandlerContext, id: JSONValue?, from: Int64) {
        subscription = (nil, from - 1, .now(), false)
        pending.removeAll()
        // Closed by the account watcher within its interval if the principal is revoked.
        if let principal { server.state.subscribed(context.channel, principal: principal) }
        if let idle = try? context.pipeline.syncOperations.handler(type: IdleCloser.self) { idle.exempt = true }
        server.logger.info("subscribed", metadata: ["peer": "\(peer)", "principal": "\(principal?.name ?? "")", "from": "\(from)"])
        context.writeAndFlush(wrapOutboundOut(LineServer.line(LineServer.subscribed(id, from: from))), promise: nil)
        let path = server.config.storePath
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { try EventStore.open(path: path) }.whenComplete { [self] result in
            let context = bound.value
            switch result {
            case .success(let store):
                guard context.channel.isActive else { store.close(); return }
                subscription?.store = store
                pump(context: context)
            case .failure(let error):
                server.logger.error("subscription cannot open the store", metadata: ["error": "\(error)"])
                context.close(promise: nil)
            }
        }
    }

    /// Sends what the subscriber has not seen yet, at the pace its socket takes it; polls when caught up.
    /// Writers never wait for it: it reads the store on its own connection.
    private func pump(context: ChannelHandlerContext) {
        guard var sub = subscription, let store = sub.store, !sub.pumping, context.channel.isActive else { return }
        if server.state.draining {
            context.close(promise: nil)
            return
        }
        guard context.channel.isWritable else { return }  // resumes on channelWritabilityChanged
        if server.state.committedSize > sub.last {
            sub.pumping = true
            subscription = sub
            let from = sub.last + 1
            NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { () -> [UInt8] in
                var out: [UInt8] = []
                try store.forEachRow(from: from, through: from + 499) { row in
                    CanonicalJSON.write(["event": try row.event().json], into: &out)
                    out.append(UInt8(ascii: "\n"))
                }
                return out
            }.and(value: from).whenComplete { [self, bound = NIOLoopBound(context, eventLoop: context.eventLoop)] result in
                let context = bound.value
                if let store = storeToClose {
                    storeToClose = nil
                    subscription?.pumping = false
                    store.close()
                    return
                }
                guard var s = subscription else { return }
                s.pumping = false
                switch result {
                case .success(let (bytes, start)):
                    if !bytes.isEmpty {
                        let count = Int64(bytes.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 })
                        s.last = start + count - 1
                        s.quietSince = .now()
                        subscription = s
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
                        pump(context: context)
                        return
                    }
                    subscription = s
                case .failure(let error):
                    server.logger.error("subscription read failed", metadata: ["error": "\(error)"])
                    context.close(promise: nil)
                    return
                }
                schedulePump(context: context)
            }
            return
        }
        if NIODeadline.now() - sub.quietSince > server.config.heartbeatInterval {
            sub.quietSince = .now()
            subscription = sub
            context.writeAndFlush(wrapOutboundOut(LineServer.line(["heartbeat": ["log_size": .number(Double(sub.last))]])), promise: nil)
        }
        schedulePump(context: context)
    }

    private func schedulePump(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(20)) { [self] in pump(context: bound.value) }
    }
}
