import Foundation
import NIOCore
import NIOTLS
import NIOPosix
import NIOSSL
import TrialGateAudit

/// A blocking line-protocol client over TLS, for `trialgate client` and tests; the same calls as `LineClient`.
///
/// The server is trusted through a CA file, through a pinned certificate, or both; with neither, through the system's
/// roots. Nothing is sent before the handshake and the pin check have passed, so a wrong server never sees a token.
public final class TLSLineClient: LineConnection, @unchecked Sendable {
    /// How the client decides that it reached the right server.
    public struct Trust: Sendable {
        /// PEM file of the CA (or the self-signed certificate) to trust instead of the system's roots; the server's
        /// name or IP address must then match its certificate.
        public var caPath: String?
        /// Hex SHA-256 of the server's leaf certificate in DER form (`openssl x509 -outform DER | sha256sum`). Alone,
        /// it is the whole check, so a self-signed certificate needs nothing else; with `caPath`, both must pass.
        public var pinnedSHA256: String?

        public init(caPath: String? = nil, pinnedSHA256: String? = nil) {
            self.caPath = caPath
            self.pinnedSHA256 = pinnedSHA256
        }
    }

    private let channel: Channel
    private let inbox: Inbox

    /// Connects to `host:port` (or `[v6]:port`) and completes the handshake, or throws saying why it failed.
    public init(connect address: String, trust: Trust, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw Self.fail("address must be HOST:PORT, got \(address)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let pin = try trust.pinnedSHA256.map { pin -> String in
            let hex = pin.lowercased().filter { $0 != ":" }
            guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
                throw Self.fail("--tls-pin takes the 64 hex digits of a SHA-256, got \(pin)")
            }
            return hex
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        TLSPolicy.harden(&tls)
        tls.verifySignatureAlgorithms = TLSPolicy.clientSignatureAlgorithms
        if let ca = trust.caPath {
            tls.trustRoots = .file(ca)
        } else if pin != nil {
            // The pin alone decides: the chain and name checks would refuse the self-signed certificates it is for.
            tls.certificateVerification = .none
        }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: tls) } catch {
            throw Self.fail("cannot set up TLS with \(trust.caPath ?? "the system's roots"): \(error)")
        }
        // SNI and name checks take a name; for an IP address NIOSSL checks the certificate against the peer's address.
        let serverName = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        let inbox = Inbox()
        let ready = group.next().makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                    try channel.pipeline.syncOperations.addHandler(Receiver(inbox: inbox, pin: pin, ready: ready))
                }
            }
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            ready.fail(error)
            throw Self.fail("cannot connect to \(address): \(error)")
        }
        self.inbox = inbox
        do { try ready.futureResult.wait() } catch {
            channel.close(promise: nil)
            throw Self.fail("TLS with \(address) failed: \(error)")
        }
    }

    deinit { channel.close(promise: nil) }

    static func fail(_ message: String) -> Error { NSError(domain: "trialgate.client", code: 1, userInfo: [NSLocalizedDescriptionKey: message]) }

    public func send(line: String) throws {
        var buffer = channel.allocator.buffer(capacity: line.utf8.count + 1)
        buffer.writeString(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        try channel.writeAndFlush(buffer).wait()
    }

    public func readLine() throws -> String? { try inbox.next() }

    public func finishSending() { channel.close(mode: .output, promise: nil) }

    /// Lines received, handed from the event loop to the reading thread.
    final class Inbox: @unchecked Sendable {
        private let condition = NSCondition()
        private var lines: [String] = []
        private var head = 0
        private var ended = false
        private var failure: Error?

        func push(_ line: String) {
            condition.lock()
            lines.append(line)
            condition.signal()
            condition.unlock()
        }

        func end(_ error: Error?) {
            condition.lock()
            ended = true
            if failure == nil { failure = error }
            condition.broadcast()
            condition.unlock()
        }

        func next() throws -> String? {
            condition.lock()
            defer { condition.unlock() }
            while head == lines.count && !ended { condition.wait() }
            if head < lines.count {
                defer {
                    head += 1
                    if head == lines.count { lines.removeAll(keepingCapacity: true); head = 0 }
                }
                return lines[head]
            }
            if let failure { throw TLSLineClient.fail("receive failed: \(failure)") }
            return nil
        }
    }

    /// Splits what the server sends into lines, and checks the pin once the handshake is done.
    final class Receiver: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        private let inbox: Inbox
        private let pin: String?
        private let ready: EventLoopPromise<Void>
        private var buffer = ByteBuffer()

        init(inbox: Inbox, pin: String?, ready: EventLoopPromise<Void>) {
            self.inbox = inbox
            self.pin = pin
            self.ready = ready
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event {
                if let pin {
                    let leaf = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate?.toDERBytes()
                    let seen = leaf.map { Digest.sha256Hex($0) }
                    guard seen == pin else {
                        ready.fail(TLSLineClient.fail("the server's certificate has SHA-256 \(seen ?? "(none)"), not the pinned \(pin)"))
                        context.close(promise: nil)
                        return
                    }
                }
                ready.succeed()
            }
            context.fireUserInboundEventTriggered(event)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            buffer.writeBuffer(&bytes)
            while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - buffer.readerIndex
                inbox.push(buffer.readString(length: length) ?? "")
                buffer.moveReaderIndex(forwardBy: 1)
            }
            buffer.discardReadBytes()
        }

        func channelInactive(context: ChannelHandlerContext) {
            if buffer.readableBytes > 0 { inbox.push(buffer.readString(length: buffer.readableBytes) ?? "") }
            ready.fail(TLSLineClient.fail("the connection closed during the TLS handshake"))
            inbox.end(nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            ready.fail(error)
            inbox.end(error)
            context.close(promise: nil)
        }
    }
}

/// What `trialgate client` needs of a connection, plain or TLS.
public protocol LineConnection: AnyObject, Sendable {
    /// Sends one line (a newline is added).
    func send(line: String) throws
    /// Reads one line, or nil when the server closed the connection.
    func readLine() throws -> String?
    /// Closes the sending side; the server answers what it has and then closes.
    func finishSending()
}

extension LineConnection {
    /// Sends a request line and waits for its reply line.
    public func request(_ line: String) throws -> String? {
        try send(line: line)
        return try readLine()
    }
}

extension LineClient: LineConnection {}
