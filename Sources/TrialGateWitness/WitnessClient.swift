import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TrialGateCore

/// The log's HTTP client for a witness's `add-checkpoint` (C2SP tlog-witness): one POST per connection, over TLS for
/// an `https` URL. The server is trusted through the system's roots, or through a CA file (`caFile`, e.g. from
/// `TRIALGATE_WITNESS_CA`) for witnesses with certificates of a trial's own CA; its name must match its certificate.
/// The whole exchange is bounded by `timeout`, and an answer longer than 64 KiB is refused (a cosignature line is
/// under 200 bytes), so a slow or hostile witness costs the caller its timeout and no more.
public enum WitnessClient {
    /// The longest answer read.
    public static let maximumAnswer = 64 * 1024

    /// A TLS client context trusting `caFile`, or the system's roots without one.
    private static func clientContext(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile { configuration.trustRoots = .file(caFile) }
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw TrialGateError(.connectFailed, "cannot set up TLS with \(caFile ?? "the system's roots"): \(error)")
        }
    }

    /// POSTs `body` to `url` and answers the HTTP status and body. Blocks the calling thread, which must not be an
    /// event loop's.
    public static func post(url: URL, body: String, timeout: TimeInterval, caFile: String? = Environment.witnessCA,
                            group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws -> (status: Int, body: String) {
        guard let scheme = url.scheme, scheme == "http" || scheme == "https", var host = url.host, !host.isEmpty else {
            throw TrialGateError(.badRequest, "a witness URL is http:// or https:// with a host, got \(url)")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let path = (url.path.isEmpty ? "/" : url.path) + (url.query.map { "?" + $0 } ?? "")
        let tls = try scheme == "https" ? clientContext(caFile: caFile) : nil
        // SNI and the name check take a name; for an IP address NIOSSL checks the certificate against the peer's address.
        let serverName = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        let answer = group.next().makePromise(of: (Int, String).self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName)) }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(AnswerCollector(answer: answer))
                }
            }
        let channel: Channel
        do { channel = try bootstrap.connect(host: host, port: port).wait() } catch {
            answer.fail(error)
            throw TrialGateError(.connectFailed, "\(url): cannot connect: \(error)")
        }
        let deadline = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
            answer.fail(TrialGateError(.connectFailed, "\(url): no answer within \(timeout) s"))
            channel.close(promise: nil)
        }
        let hostHeader = host.contains(":") ? "[\(host)]" : host  // an IPv6 address in brackets (RFC 9110 §7.2)
        let headers = HTTPHeaders([
            ("Host", url.port.map { "\(hostHeader):\($0)" } ?? hostHeader),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", String(body.utf8.count)),
            ("Connection", "close"),
        ])
        let bytes = channel.allocator.buffer(string: body)
        channel.eventLoop.execute {
            channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(bytes)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        do {
            let (status, text) = try answer.futureResult.wait()
            return (status, text)
        } catch let e as TrialGateError {
            throw e
        } catch {
            throw TrialGateError(.connectFailed, "\(url): \(error)")
        }
    }

    /// Reads the witness's answer: its status and its body, up to `maximumAnswer` bytes.
    final class AnswerCollector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        private let answer: EventLoopPromise<(Int, String)>
        private var status = 0
        private var body = ByteBuffer()

        init(answer: EventLoopPromise<(Int, String)>) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(var chunk):
                guard body.readableBytes + chunk.readableBytes <= WitnessClient.maximumAnswer else {
                    answer.fail(TrialGateError(.connectFailed, "the witness's answer is longer than \(WitnessClient.maximumAnswer) bytes"))
                    context.close(promise: nil)
                    return
                }
                body.writeBuffer(&chunk)
            case .end:
                answer.succeed((status, String(decoding: body.readableBytesView, as: UTF8.self)))
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            answer.fail(TrialGateError(.connectFailed, "the witness closed the connection before its answer was complete"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            answer.fail(error)
            context.close(promise: nil)
        }
    }

    /// Where the CA file for witnesses' certificates comes from.
    public enum Environment {
        /// `TRIALGATE_WITNESS_CA`: a PEM file of the CA (or self-signed certificate) witnesses' certificates chain to.
        public static var witnessCA: String? {
            guard let v = ProcessInfo.processInfo.environment["TRIALGATE_WITNESS_CA"], !v.isEmpty else { return nil }
            return v
        }
    }
}
