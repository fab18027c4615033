import Foundation
import Logging
import NIOCore
import NIOPosix
import TrialGateCore
import TrialGateService
import TrialGateStore

/// A subscribed connection: the log streamed from a point on, at the pace the subscriber reads.
extension ProtocolHandler {
    func startSubscription(context: ChannelHandlerContext, principal: Principal, ack: [UInt8], from: Int64) {
        let subscription = Subscription(after: from - 1, at: context.eventLoop.now)
        phase = .streaming(subscription)
        inbound = ByteBuffer()
        // Closed by the account watcher within its interval if the principal is revoked.
        server.state.subscribed(context.channel, principal: principal)
        server.logger.info("subscribed", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "from": "\(from)"])
        context.writeAndFlush(wrapOutboundOut(LineServer.line(ack)), promise: nil)
        let path = server.config.storePath
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { try EventStore.open(path: path) }.whenComplete { [self] result in
            let context = bound.value
            switch result {
            case .success(let store):
                guard context.channel.isActive, case .streaming(let current) = phase, current === subscription else { store.close(); return }
                subscription.store = store
                pump(context: context)
            case .failure(let error):
                server.logger.error("subscription cannot open the store", metadata: ["error": .untrusted(error)])
                context.close(promise: nil)
            }
        }
    }

    /// Sends what the subscriber has not seen yet, at the pace its socket takes it; polls when caught up.
    /// Writers never wait for it: it reads the store on its own connection.
    func pump(context: ChannelHandlerContext) {
        guard case .streaming(let sub) = phase, let store = sub.store, !sub.pumping, context.channel.isActive else { return }
        guard context.channel.isWritable else { return }  // resumes on channelWritabilityChanged
        if server.state.committedSize > sub.last {
            sub.pumping = true
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
                sub.pumping = false
                if sub.closeWhenRead {
                    sub.closeStore()
                    return
                }
                guard case .streaming(let current) = phase, current === sub else { return }
                switch result {
                case .success(let (bytes, start)):
                    if !bytes.isEmpty {
                        let count = Int64(bytes.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 })
                        sub.last = start + count - 1
                        sub.quietSince = context.eventLoop.now
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
                        pump(context: context)
                        return
                    }
                case .failure(let error):
                    server.logger.error("subscription read failed", metadata: ["error": .untrusted(error)])
                    context.close(promise: nil)
                    return
                }
                schedulePump(context: context)
            }
            return
        }
        if context.eventLoop.now - sub.quietSince > server.config.heartbeatInterval {
            sub.quietSince = context.eventLoop.now
            context.writeAndFlush(wrapOutboundOut(LineServer.line(CanonicalJSON.encode(["heartbeat": ["log_size": .number(Double(sub.last))]]))), promise: nil)
        }
        schedulePump(context: context)
    }

    func schedulePump(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(20)) { [self] in pump(context: bound.value) }
    }
}
