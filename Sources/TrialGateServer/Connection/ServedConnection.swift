import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TrialGateCore
import TrialGateService

/// One client's connection, served by one task: authenticate first, then one reply per request, in order.
///
/// The task reads what arrives (`ConnectionInput`), frames lines, hands each to the connection's `LineProtocol` and
/// carries out what it answers: a reply, a request run on a worker thread (the task awaits it; the next pipelined
/// request waits), a subscription, or closing. Nothing here blocks an event loop.
///
/// What one connection can make the server hold is bounded whatever the client does: the channel reads ahead at most
/// `highWatermark` reads of at most a quarter of `requestBufferBytes` each, and nothing more while the task works;
/// replies go out only as the client takes them (`replyBufferBytes`, the channel's write watermark), and while a reply
/// waits the task reads nothing. The keeper (`ConnectionKeeper`) closes connections that hold a slot without using it.
struct ServedConnection {
    typealias Channel = NIOAsyncChannel<ConnectionInput, ByteBuffer>
    typealias Inbound = NIOAsyncChannelInboundStream<ConnectionInput>
    typealias Outbound = NIOAsyncChannelOutboundWriter<ByteBuffer>

    /// Replies are handed to the channel at least this often within one burst of pipelined requests.
    static let flushEvery = 16 * 1024

    /// Where the connection is in its life.
    enum State {
        /// Reading requests and answering them in order.
        case serving
        /// The server is shutting down: what was read is answered `shutting_down`, then the connection closes.
        case draining
        /// Streaming the log to a subscriber; what the client sends is not read.
        case streaming(principal: Principal, from: Int64)
        /// The last line is going out, then the connection closes (`graceful`: after the client closes its side).
        case closing(last: ByteBuffer?, graceful: Bool, linger: TimeAmount)
    }

    let server: LineServer
    let workers: Workers
    let channel: any NIOCore.Channel
    let peer: Peer
    let clock: NIOLockedValueBox<ConnectionClock>
    var session: LineProtocol
    var state = State.serving
    var framer: LineFramer
    /// Received bytes not framed yet.
    var pending = ByteBuffer()
    /// Replies not handed to the channel yet.
    var replies = ByteBuffer()
    /// The client has authenticated once: it holds a logged-in slot.
    var authenticated = false

    init(server: LineServer, workers: Workers, channel: any NIOCore.Channel, peer: Peer, clock: NIOLockedValueBox<ConnectionClock>) {
        self.server = server
        self.workers = workers
        self.channel = channel
        self.peer = peer
        self.clock = clock
        session = server.lineProtocol(peer: peer)
        framer = LineFramer(maxLength: server.config.maxLineBytes)
    }

    /// Serves the connection until it ends.
    mutating func run(_ connection: Channel) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var input = inbound.makeAsyncIterator()
                try await serve(&input, outbound)
                if case .streaming(let principal, let from) = state { try await stream(as: principal, from: from, outbound) }
                if case .closing(let last, let graceful, let linger) = state {
                    try await finish(last: last, graceful: graceful, linger: linger, input: &input)
                }
            }
        } catch {
            server.logger.debug("connection error", metadata: ["peer": "\(peer)", "error": .untrusted(error)])
        }
    }

    /// Reads and answers requests until the connection streams or closes.
    private mutating func serve(_ input: inout Inbound.AsyncIterator, _ outbound: Outbound) async throws {
        while case .serving = state {
            guard let next = try await input.next() else {
                // The client closed its side (or the connection is gone): a last line without a newline still counts.
                guard channel.isActive else { return }
                for frame in framer.last(&pending) {
                    try await answer(frame, outbound)
                    guard case .serving = state else { break }
                }
                try await flush(outbound)
                if case .serving = state { state = .closing(last: nil, graceful: false, linger: server.config.closeLinger) }
                return
            }
            switch next {
            case .bytes(var bytes):
                // Most reads end on a line's end: the next starts an empty buffer, and takes the read as it is.
                if pending.readableBytes == 0 { pending = bytes } else { pending.writeBuffer(&bytes) }
            case .draining:
                state = .draining
            }
            try await answerPending(outbound)
        }
    }

    /// Answers every complete request read so far, in order, as far as the connection's state allows.
    private mutating func answerPending(_ outbound: Outbound) async throws {
        var answered = false
        while let frame = framer.next(&pending) {
            answered = true
            if case .serving = state, server.state.isDraining { state = .draining }
            if case .draining = state {
                append(Envelope.failure(id: Self.requestID(frame), .shuttingDown, "the server is shutting down; this request was not run"))
                continue
            }
            try await answer(frame, outbound)
            guard case .serving = state else { break }
            if replies.readableBytes >= Self.flushEvery { try await flush(outbound) }
        }
        pending.discardReadBytes()
        try await flush(outbound)
        if answered { clock.withLockedValue { $0.deadlines.active(at: channel.eventLoop.now) } }
        if case .draining = state { state = .closing(last: nil, graceful: true, linger: server.config.closeLinger) }
    }

    /// Carries out what the line protocol answers to one frame.
    private mutating func answer(_ frame: Frame, _ outbound: Outbound) async throws {
        switch session.receive(frame) {
        case .none:
            break
        case .welcome(let reply, _):
            append(reply)
            if !authenticated {
                authenticated = true
                server.state.authenticated(channel)
                clock.withLockedValue { $0.deadlines.authenticated() }
            }
        case .refuse(let reply, .continue):
            append(reply)
        case .refuse(let reply, .close):
            try await flush(outbound)
            state = .closing(last: LineServer.line(reply), graceful: false, linger: ConnectionKeeper.refusalLinger)
        case .run(let request):
            // A connection's protocol runs requests as the principal that authenticated, never as the host.
            guard case .principal(let principal) = request.caller else {
                assertionFailure("a served connection's request without a principal")
                state = .closing(last: nil, graceful: false, linger: ConnectionKeeper.refusalLinger)
                return
            }
            try await flush(outbound)
            append(session.reply(to: try await run(request.command, as: principal), for: request))
        case .subscribe(let from, let ack):
            guard let principal = session.principal else {
                assertionFailure("a subscription without a principal")
                state = .closing(last: nil, graceful: false, linger: ConnectionKeeper.refusalLinger)
                return
            }
            append(ack)
            try await flush(outbound)
            state = .streaming(principal: principal, from: from)
        }
    }

    /// Runs a command on a worker thread, the connection exempt from idleness meanwhile.
    private func run(_ command: Command, as principal: Principal) async throws -> Result<[UInt8], TrialGateError> {
        clock.withLockedValue { $0.idleExempt = true }
        defer { clock.withLockedValue { $0.idleExempt = false } }
        let answer = await workers.answer(command, as: principal, on: channel.eventLoop)
        clock.withLockedValue { $0.deadlines.active(at: channel.eventLoop.now) }
        return answer.map {
            switch $0 {
            case .encoded(let bytes): bytes
            case .value(let value): CanonicalJSON.encode(value)
            }
        }
    }

    private mutating func append(_ line: [UInt8]) {
        replies.writeBytes(line)
        replies.writeInteger(UInt8(ascii: "\n"))
    }

    /// Hands the replies gathered so far to the channel; returns once the client has room for them (it has taken
    /// enough of the earlier ones), which counts as activity.
    mutating func flush(_ outbound: Outbound) async throws {
        guard replies.readableBytes > 0 else { return }
        let out = replies
        replies = ByteBuffer()
        try await outbound.write(out)
        clock.withLockedValue { $0.deadlines.active(at: channel.eventLoop.now) }
    }

    /// The `id` of a request that will not be run, for its `shutting_down` reply.
    static func requestID(_ frame: Frame) -> JSONValue? {
        guard case .line(let bytes) = frame, let request = try? JSONParser.parse(bytes) else { return nil }
        return request["id"]
    }
}

extension Workers {
    /// Runs `command` on the writer or a reader and returns its answer. A reader resumes the task itself; the writer
    /// resumes a batch's tasks from each one's event loop, so that it wakes each loop once per batch.
    func answer(_ command: Command, as principal: Principal, on loop: EventLoop) async -> Result<Answer, TrialGateError> {
        await withCheckedContinuation { resumed in
            (command.writes ? writes : reads).submit(command, as: principal, on: command.writes ? loop : nil) { resumed.resume(returning: $0) }
        }
    }
}
