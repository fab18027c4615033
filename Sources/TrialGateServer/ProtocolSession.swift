import NIOCore
import TrialGateCore
import TrialGateService

/// One client's session without a socket: the bytes it sends go through a served connection's own line framing
/// (`LineFramer`), protocol step (authentication, roles, `subscribe`, request parsing, the strike limit before
/// login) and a dispatcher, synchronously, one reply per request, in order. It reaches the whole request path
/// in-process, which is what the fuzzer drives; the event loop, worker threads, back-pressure, deadlines and
/// subscriptions' streaming are the server's alone.
public final class ProtocolSession {
    private let server: LineServer
    private let dispatcher: Dispatcher
    private let peer: Peer
    private var framer: LineFramer
    private var buffer = ByteBuffer()
    private var principal: Principal?
    private var strikes = 0
    /// The session asked to be closed (rate limited, too many errors), or became a subscription: later lines get no reply.
    public private(set) var ended = false

    /// - Parameter peer: the client's `ip:port`; its address decides the source the failure limit counts.
    public init(server: LineServer, dispatcher: Dispatcher, peer: String = "127.0.0.1:50000") throws {
        self.server = server
        self.dispatcher = dispatcher
        let host = peer.split(separator: ":").dropLast().joined(separator: ":")
        self.peer = Peer(name: peer, source: PeerSource(try? SocketAddress(ipAddress: host, port: 0)))
        framer = LineFramer(maxLength: server.config.maxLineBytes)
        // The accounts as the log has them now, as a served connection sees them through the account watcher.
        if let store = dispatcher.store { server.state.install(try UserDirectory.load(store: store), now: SystemClock().now()) }
    }

    /// Takes bytes as one socket read might deliver them; returns the replies to the requests they completed.
    public func receive(_ bytes: [UInt8]) throws -> [JSONValue] {
        buffer.writeBytes(bytes)
        var frames: [Frame] = []
        while let frame = framer.next(&buffer) { frames.append(frame) }
        buffer.discardReadBytes()
        return answer(frames)
    }

    /// The client closed its side: a last line without a newline still counts.
    public func finish() throws -> [JSONValue] {
        answer(framer.last(&buffer))
    }

    private func answer(_ frames: [Frame]) -> [JSONValue] {
        var replies: [JSONValue] = []
        for frame in frames {
            guard !ended else { continue }
            let step = server.step(frame, principal: principal, peer: peer)
            if LineServer.isStrike(step, before: principal) {
                strikes += 1
                if strikes > server.config.maxErrorsBeforeAuth {
                    replies.append(LineServer.error(nil, .tooManyErrors, "too many requests failed before authentication"))
                    ended = true
                    continue
                }
            }
            switch step {
            case .reply(let reply, let next):
                if let reply { replies.append(reply) }
                switch next {
                case .continue(let p): principal = p
                case .close: ended = true
                }
            case .run(let command, let id, let cmd):
                guard let principal else { continue }
                // As a reader thread answers: encoded, and spliced into the reply line.
                let result: Result<Answer, TrialGateError>
                do { result = .success(.encoded(try dispatcher.executeEncoded(command, principal: principal))) } catch {
                    result = .failure(TrialGateError(error))
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
