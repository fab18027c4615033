import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TrialGateCore

/// The witness's HTTP service: `POST <prefix>/add-checkpoint` (C2SP tlog-witness). Bodies are bounded, idle
/// connections closed, and the decision, its fsync and the signing run on a thread of their own, never an event loop.
public final class WitnessServer: @unchecked Sendable {
    /// The largest request body taken (a checkpoint, its signatures and 63 proof lines fit many times over).
    public static let maximumBody = 64 * 1024
    /// How long a connection has to send a whole request (from connecting, or from the previous answer): a client
    /// that trickles bytes is closed as one that sends nothing.
    public static let requestTimeout: TimeAmount = .seconds(10)
    /// The most connections open at once; beyond, a new connection is closed at once.
    public static let maximumConnections = 256
    /// Answers not yet read by a client that pipelines requests: past this the connection stops reading requests.
    static let writeBuffer = ChannelOptions.Types.WriteBufferWaterMark(low: 16 * 1024, high: 64 * 1024)

    let witness: Witness
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let pool: NIOThreadPool
    private var channel: Channel?

    public init(witness: Witness, logger: Logger, group: MultiThreadedEventLoopGroup = .singleton) {
        self.witness = witness
        self.logger = logger
        self.group = group
        pool = NIOThreadPool(numberOfThreads: 1)
    }

    /// Binds `host:port` and serves until `close()`, over TLS when `tls` is given; returns the bound address.
    public func start(host: String, port: Int, tls: NIOSSLContext? = nil) throws -> SocketAddress {
        pool.start()
        let witness = self.witness, pool = self.pool, logger = self.logger
        let open = NIOLockedValueBox(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: Self.writeBuffer)
            .childChannelInitializer { channel in
                let admitted = open.withLockedValue { n -> Bool in
                    guard n < Self.maximumConnections else { return false }
                    n += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(WitnessHTTPHandler(witness: witness, pool: pool, logger: logger))
                }
            }
        let channel = try bootstrap.bind(host: host, port: port).wait()
        self.channel = channel
        guard let address = channel.localAddress else { throw TrialGateError(.listenFailed, "the witness bound no address") }
        return address
    }

    /// Waits until the server is closed.
    public func wait() throws { try channel?.closeFuture.wait() }

    public func close() throws {
        try channel?.close().wait()
        try pool.syncShutdownGracefully()
    }
}

/// One HTTP connection of the witness.
final class WitnessHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let witness: Witness
    let pool: NIOThreadPool
    let logger: Logger
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var refused: (status: HTTPResponseStatus, why: String)?
    /// Closes the connection unless the next request is complete in time.
    private var deadline: Scheduled<Void>?
    /// A request whose answer is being prepared or has been sent with `Connection: close`: nothing more is read.
    private var busy = false
    /// Set when bytes that are not HTTP follow a request still being answered.
    private var closeAfterAnswer = false

    init(witness: Witness, pool: NIOThreadPool, logger: Logger) {
        (self.witness, self.pool, self.logger) = (witness, pool, logger)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armDeadline(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armDeadline(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = context.eventLoop.scheduleTask(in: WitnessServer.requestTimeout) { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
            refused = nil
            if h.method != .POST { refused = (.methodNotAllowed, "add-checkpoint takes POST") }
            else if h.uri.split(separator: "?").first.map(String.init) != "/add-checkpoint" { refused = (.notFound, "not found: \(h.uri.prefix(80))") }
            else if let declared = h.headers.first(name: "Content-Length").flatMap(Int.init), declared > WitnessServer.maximumBody {
                // Said up front: answered at once, and the connection closed without reading the body.
                respond(context: context, status: .payloadTooLarge, contentType: "text/plain; charset=utf-8",
                        body: "a request body is at most \(WitnessServer.maximumBody) bytes\n", keepAlive: false)
                busy = true
            }
        case .body(var chunk):
            guard refused == nil, !busy else { return }
            if body.readableBytes + chunk.readableBytes > WitnessServer.maximumBody {
                refused = (.payloadTooLarge, "a request body is at most \(WitnessServer.maximumBody) bytes")
                body.clear()
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            guard let head, !busy else { return }
            let keepAlive = head.isKeepAlive
            if let refused {
                respond(context: context, status: refused.status, contentType: "text/plain; charset=utf-8", body: refused.why + "\n", keepAlive: keepAlive)
                return
            }
            let text = String(decoding: body.readableBytesView, as: UTF8.self)
            let witness = self.witness
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            busy = true
            deadline?.cancel()
            pool.runIfActive(eventLoop: loop) { witness.addCheckpoint(text) }.whenComplete { result in
                let (handler, context) = bound.value
                handler.busy = false
                switch result {
                case .success(let reply):
                    handler.respond(context: context, status: HTTPResponseStatus(statusCode: reply.status), contentType: reply.contentType,
                                    body: reply.body, keepAlive: keepAlive)
                case .failure:
                    handler.respond(context: context, status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: "shutting down\n", keepAlive: false)
                }
            }
        }
    }

    /// Bytes that are not HTTP: the error handler before this one has answered 400; the connection is closed, once the
    /// answer to a request before them is out.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if busy {
            closeAfterAnswer = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    /// A client that does not read its answers: stop reading its requests until it does.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenFailure { _ in context.close(promise: nil) }
        context.fireChannelWritabilityChanged()
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, contentType: String, body: String, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if keepAlive && !closeAfterAnswer { armDeadline(context: context) } else { done.whenComplete { _ in context.close(promise: nil) } }
    }
}
