import NIOCore
import TrialGateCore
import TrialGateService

/// One client's session without a socket: the bytes it sends go through a served connection's own line framing
/// (`LineFramer`), line protocol (`LineProtocol`: authentication, roles, `subscribe`, request parsing, the strike
/// limit before login) and a dispatcher, synchronously, one reply per request, in order. It reaches the whole request
/// path in-process, which is what the fuzzer drives; the event loop, worker threads, back-pressure, deadlines and
/// subscriptions' streaming are the server's alone.
public final class ProtocolSession {
    private let dispatcher: Dispatcher
    private var framer: LineFramer
    private var buffer = ByteBuffer()
    private var session: LineProtocol

    /// The session was closed (rate limited, too many errors, revoked) or became a subscription: later lines get no reply.
    public var ended: Bool {
        switch session.state {
        case .closed, .streaming: return true
        default: return false
        }
    }

    /// - Parameter peer: the client's `ip:port`; its address decides the source the failure limit counts.
    public init(server: LineServer, dispatcher: Dispatcher, peer: String = "127.0.0.1:50000") throws {
        self.dispatcher = dispatcher
        let host = peer.split(separator: ":").dropLast().joined(separator: ":")
        session = server.lineProtocol(peer: Peer(name: peer, source: PeerSource(try? SocketAddress(ipAddress: host, port: 0))))
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
        return try answer(frames)
    }

    /// The client closed its side: a last line without a newline still counts.
    public func finish() throws -> [JSONValue] {
        try answer(framer.last(&buffer))
    }

    private func answer(_ frames: [Frame]) throws -> [JSONValue] {
        try frames.compactMap { frame in try dispatcher.answer(frame, with: &session).map { try JSONParser.parse($0.line) } }
    }
}
