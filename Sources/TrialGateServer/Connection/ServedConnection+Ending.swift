import Foundation
import Logging
import NIOCore
import NIOPosix
import TrialGateCore
import TrialGateService
import TrialGateStore

extension ServedConnection {
    /// Events read from the store per step of a subscription.
    static let streamStep: Int64 = 500
    /// How often a caught-up subscription looks for new events.
    static let streamPoll: Duration = .milliseconds(20)

    /// Streams the log from `from` on, at the pace the subscriber reads, on a store connection of its own (writers
    /// never wait for it), with a heartbeat when there is nothing to send; until the client goes, the account
    /// watcher closes the connection (its principal revoked), or the server shuts down.
    mutating func stream(as principal: Principal, from: Int64, _ outbound: Outbound) async throws {
        // Closed by the account watcher within its interval if the principal is revoked.
        server.state.subscribed(channel, principal: principal)
        server.logger.info("subscribed", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "from": "\(from)"])
        clock.withLockedValue { $0.idleExempt = true }
        let path = server.config.storePath
        let store: EventStore
        do {
            store = try await NIOThreadPool.singleton.runIfActive { try EventStore.open(path: path) }
        } catch {
            server.logger.error("subscription cannot open the store", metadata: ["error": .untrusted(error)])
            return
        }
        defer { store.close() }
        var last = from - 1
        var quietSince = ContinuousClock.now
        while channel.isActive {
            if server.state.isDraining {
                state = .closing(last: nil, graceful: true, linger: server.config.closeLinger)
                return
            }
            if server.state.committedSize > last {
                let first = last + 1
                let (bytes, count) = try await NIOThreadPool.singleton.runIfActive {
                    var out: [UInt8] = []
                    var count: Int64 = 0
                    try store.forEachRow(from: first, through: first + Self.streamStep - 1) { row in
                        CanonicalJSON.write(["event": try row.event().json], into: &out)
                        out.append(UInt8(ascii: "\n"))
                        count += 1
                    }
                    return (out, count)
                }
                if count > 0 {
                    last = first + count - 1
                    quietSince = .now
                    try await outbound.write(ByteBuffer(bytes: bytes))
                    continue
                }
            }
            if ContinuousClock.now - quietSince > Duration.nanoseconds(server.config.heartbeatInterval.nanoseconds) {
                quietSince = .now
                try await outbound.write(LineServer.line(CanonicalJSON.encode(["heartbeat": ["log_size": .number(Double(last))]])))
            }
            try await Task.sleep(for: Self.streamPoll)
        }
    }

    /// Sends `last` after everything already written, then closes. Gracefully, our side closes once that is out and
    /// the connection when the client closes its side or after `linger`, reading and dropping what the client still
    /// sends; otherwise (a client flooding bad requests, whose bytes are not worth reading) the connection closes as
    /// soon as `last` is out, or after `linger` if the client does not take it.
    func finish(last: ByteBuffer?, graceful: Bool, linger: TimeAmount, input: inout Inbound.AsyncIterator) async throws {
        let channel = self.channel
        let deadline = channel.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        // Written after the replies handed to the channel before it, so once it is out they all are.
        try? await channel.writeAndFlush(last ?? ByteBuffer()).get()
        guard graceful, channel.isActive else { return }
        do { try await channel.close(mode: .output).get() } catch { return }
        while try await input.next() != nil {}
    }
}
