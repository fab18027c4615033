import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

/// The line-protocol server: one JSON request per line, one JSON reply line each, in order.
///
/// Each connection is served by a `ProtocolHandler` on its event loop; the SQLite work happens on worker threads
/// (one writer doing group commit, a few readers), never on an event loop. Graceful shutdown stops
/// accepting, lets in-flight requests finish, commits what is queued, and closes the store.
public final class LineServer: Service, @unchecked Sendable {
    let config: ServerConfiguration
    let logger: Logger
    let state: ServerState
    /// How far the log is known to be covered by valid checkpoints, shared by the writer, the readers and the accounts.
    let coverage = CoverageMark()
    private let bound = NIOLockedValueBox<SocketAddress?>(nil)
    private let eventLoopGroup: MultiThreadedEventLoopGroup

    public init(configuration: ServerConfiguration, logger: Logger, eventLoopGroup: MultiThreadedEventLoopGroup = .singleton) {
        self.config = configuration
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        state = ServerState(limits: .init(total: configuration.maxConnections, unauthenticated: configuration.unauthenticatedLimit,
                                          perSource: configuration.maxUnauthenticatedPerSource),
                            authFailures: AuthFailureLimiter(limit: configuration.authFailureLimit,
                                                             window: .nanoseconds(Int64(configuration.authFailureWindow * 1e9)),
                                                             capacity: configuration.authFailureSources))
    }

    /// The address the server is listening on, once bound (useful with port 0).
    public var localAddress: SocketAddress? { bound.withLockedValue { $0 } }

    /// What `prepare` opened: the worker threads, the snapshot thread, TLS, and the TCP address to bind (nil: Unix socket).
    struct Prepared {
        let workers: Workers
        let snapshotter: ReportSnapshotter
        let cosigners: WitnessCosigners?
        let tls: NIOSSLContext?
        let address: SocketAddress?
    }

    /// Checks the configuration and opens everything the server needs, or throws saying what is wrong.
    func prepare() throws -> Prepared {
        let sslContext = try TLSPolicy.serverContext(certificatePath: config.tlsCertificatePath, keyPath: config.tlsKeyPath)
        var address: SocketAddress?
        if case .tcp(let host, let port) = config.endpoint {
            address = try TLSPolicy.listenAddress(host: host, port: port, shownAs: config.endpoint.description, encrypted: sslContext != nil,
                                                  allowPlaintext: config.allowInsecurePlaintext, what: "plain TCP")
        }
        try Self.refuseUnimportedUsersFile(config.usersPath, storePath: config.storePath)
        let key = try TrialKey.load(path: config.keyPath)
        let storePath = config.storePath
        let state = self.state
        let head = try EventStore.open(path: storePath)
        // A stale key would start a server that refuses every write: refuse to start instead, saying which key is in force.
        do { try Dispatcher(store: head, clock: SystemClock(), key: { key }).checkSigningKey() } catch {
            head.close()
            throw error
        }
        // The writer raises it after each checkpointed commit; readers then check what they show with one comparison.
        let coverage = self.coverage
        let lease = config.lease
        let makeDispatcher: @Sendable () throws -> Dispatcher = {
            let store = try EventStore.open(path: storePath)
            (store.database as? PostgresLogDatabase)?.lease = lease
            let dispatcher = Dispatcher(store: store, clock: SystemClock(), key: { key })
            dispatcher.coverage = coverage
            return dispatcher
        }
        let snapshotter = ReportSnapshotter(interval: config.reportSnapshotInterval, covered: try head.reportSnapshotSizes().first ?? 0,
                                            logger: logger, makeDispatcher: makeDispatcher)
        state.committed(size: try head.head().size)
        head.close()
        if !config.witnesses.isEmpty, config.witnessTransport == nil { throw TrialGateError(.internal, "witnesses are configured without a transport") }
        let cosigners = config.witnessTransport.flatMap { transport in
            config.witnesses.isEmpty ? nil
                : WitnessCosigners(targets: config.witnesses, settings: config.witnessSettings, logger: logger,
                                   openStore: { try EventStore.open(path: storePath) }, transport: transport)
        }
        let workers: Workers
        do {
            workers = try Workers(readers: max(1, config.readers), maxBatch: config.maxBatch, walCheckpoints: config.walCheckpoints,
                                  logger: logger, makeDispatcher: makeDispatcher,
                                  onCommit: { size in
                                      state.committed(size: size)
                                      snapshotter.committed(size: size)
                                      cosigners?.committed(size: size)
                                  })
        } catch {
            Task { await snapshotter.stop() }
            cosigners?.stop(waitingAtMost: 0)
            throw error
        }
        snapshotter.committed(size: state.committedSize)
        cosigners?.committed(size: state.committedSize)
        return Prepared(workers: workers, snapshotter: snapshotter, cosigners: cosigners, tls: sslContext, address: address)
    }

    /// Accounts live in the log now; a users file of an earlier release whose accounts are not all in the log would
    /// silently lock those users out, so the server does not start until it is imported.
    static func refuseUnimportedUsersFile(_ path: String, storePath: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let legacy = try UserDirectory.legacyFile(path: path)
        let store = try EventStore.open(path: storePath)
        defer { store.close() }
        let accounts = try UserDirectory.load(store: store).accounts
        let missing = legacy.filter { accounts[$0.name] == nil }.map(\.name)
        guard missing.isEmpty else {
            throw TrialGateError(.usersFile, "\(path) lists accounts that are not in the log (\(missing.joined(separator: ", "))): accounts are kept in the log now;"
                               + " run `trialgate users import \(path)` once, then remove the file")
        }
    }

    public func run() async throws {
        let prepared = try prepare()
        let (workers, snapshotter, sslContext) = (prepared.workers, prepared.snapshotter, prepared.tls)
        // The witnesses' threads stop with the server; a checkpoint not yet cosigned is submitted at the next start
        // (its thread compares the newest checkpoint with what each witness last cosigned) or by `witness submit`.
        defer { prepared.cosigners?.stop(waitingAtMost: 2) }
        let accounts: AccountWatcher
        do {
            accounts = try AccountWatcher(storePath: config.storePath, state: state, coverage: coverage, logger: logger,
                                          interval: config.accountPollInterval)
        } catch {
            await workers.stop()
            await snapshotter.stop()
            throw error
        }
        accounts.start()
        defer { accounts.stop() }
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: config.replyBufferBytes / 2, high: config.replyBufferBytes))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext { try sync.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    try sync.addHandler(ProtocolHandler(server: self, workers: workers))
                }
            }
        let server: Channel
        do {
            switch config.endpoint {
            case .tcp: server = try await bootstrap.bind(to: prepared.address!).get()
            case .unix(let path): server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            }
        } catch {
            await workers.stop()
            await snapshotter.stop()
            throw TrialGateError(.listenFailed, "cannot listen on \(config.endpoint): \(error)")
        }
        bound.withLockedValue { $0 = server.localAddress }
        logger.info("listening", metadata: ["endpoint": .untrusted(server.localAddress.map { "\($0)" } ?? config.endpoint.description),
                                             "tls": "\(sslContext != nil)", "store": .untrusted(config.storePath)])
        // Serve until asked to stop (SIGTERM / SIGINT through the service group, or cancellation).
        try? await gracefulShutdown()
        try? await server.close()
        // Each connection answers what it has read (the request in progress with its result, the rest with
        // shutting_down), closes its side and waits briefly for the client's; then the queued work is committed.
        state.drain()
        // Until the last connection has closed, or 30 s at most.
        let state = self.state
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await state.connectionsClosed() }
            group.addTask { try? await Task.sleep(for: .seconds(30)) }
            await group.next()
            group.cancelAll()
        }
        await workers.stop()
        await snapshotter.stop()
        logger.info("stopped", metadata: ["log_size": "\(state.committedSize)"])
    }
}
