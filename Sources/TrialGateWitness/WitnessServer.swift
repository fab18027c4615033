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
    /// How long a connection may send nothing before it is closed.
    public static let idleTimeout: TimeAmount = .seconds(10)

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
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
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

    init(witness: Witness, pool: NIOThreadPool, logger: Logger) {
        (self.witness, self.pool, self.logger) = (witness, pool, logger)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
            refused = nil
            if h.method != .POST { refused = (.methodNotAllowed, "add-checkpoint takes POST") }
            else if h.uri.split(separator: "?").first.map(String.init) != "/add-checkpoint" { refused = (.notFound, "not found: \(h.uri.prefix(80))") }
        case .body(var chunk):
            guard refused == nil else { return }
            if body.readableBytes + chunk.readableBytes > WitnessServer.maximumBody {
                refused = (.payloadTooLarge, "a request body is at most \(WitnessServer.maximumBody) bytes")
                body.clear()
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            let keepAlive = head.isKeepAlive
            if let refused {
                respond(context: context, status: refused.status, contentType: "text/plain; charset=utf-8", body: refused.why + "\n", keepAlive: keepAlive)
                return
            }
            let text = String(decoding: body.readableBytesView, as: UTF8.self)
            let witness = self.witness
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            pool.runIfActive(eventLoop: loop) { witness.addCheckpoint(text) }.whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let reply):
                    handler.respond(context: context, status: HTTPResponseStatus(statusCode: reply.status), contentType: reply.contentType,
                                    body: reply.body, keepAlive: keepAlive)
                case .failure:
                    handler.respond(context: context, status: .serviceUnavailable, contentType: "text/plain", body: "shutting down\n", keepAlive: false)
                }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, contentType: String, body: String, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
    }
}
