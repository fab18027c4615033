import NIOCore
import NIOEmbedded
import TrialGateCore
import TrialGateService

/// One client's session without a socket: the bytes it sends go through a served connection's own line framing
/// (`LineFrameDecoder`), protocol step (authentication, roles, `subscribe`, request parsing) and a dispatcher,
/// synchronously, one reply per request, in order. It reaches the whole request path in-process, which is what the
/// fuzzer drives; the event loop, worker threads and subscriptions' streaming are the server's alone.
public final class ProtocolSession {
    private let server: LineServer
    private let dispatcher: Dispatcher
    private let peer: String
    private let channel: EmbeddedChannel
    private var principal: Principal?
    /// The session asked to be closed (rate limited), or became a subscription: later lines get no reply.
    public private(set) var ended = false

    public init(server: LineServer, dispatcher: Dispatcher, peer: String = "127.0.0.1:50000") throws {
        self.server = server
        self.dispatcher = dispatcher
        self.peer = peer
        channel = EmbeddedChannel()
        // The accounts as the log has them now, as a served connection sees them through the account watcher.
        if let store = dispatcher.store { server.state.install(try UserDirectory.load(store: store), now: SystemClock().now()) }
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLength: server.config.maxLineBytes)))
    }

    /// Takes bytes as one socket read might deliver them; returns the replies to the requests they completed.
    public func receive(_ bytes: [UInt8]) throws -> [JSONValue] {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        return drain()
    }

    /// The client closed its side: a last line without a newline still counts.
    public func finish() throws -> [JSONValue] {
        _ = try channel.finish(acceptAlreadyClosed: true)
        return drain()
    }

    private func drain() -> [JSONValue] {
        var replies: [JSONValue] = []
        while let frame = try? channel.readInbound(as: Frame.self) {
            guard !ended else { continue }
            switch server.step(frame, principal: principal, peer: peer) {
            case .reply(let reply, let next):
                if let reply { replies.append(reply) }
                switch next {
                case .continue(let p): principal = p
                case .close: ended = true
                }
            case .run(let command, let id, let cmd):
                guard let principal else { continue }
                // As a reader thread answers: encoded, and spliced into the reply line.
                let result: Result<Answer, ServiceError>
                do { result = .success(.encoded(try dispatcher.executeEncoded(command, principal: principal))) } catch {
                    result = .failure(ServiceError(error))
                }
                let line = server.replyLine(to: result, id: id, cmd: cmd, principal: principal, peer: peer)
                do { replies.append(try JSONParser.parse(Array(line.readableBytesView.dropLast()))) } catch {
                    preconditionFailure("a reply line is not JSON: \(error)")
                }
            case .subscribe(let id, let from):
                replies.append(LineServer.subscribed(id, from: from))
                ended = true
            }
        }
        return replies
    }
}
