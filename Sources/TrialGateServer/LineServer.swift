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
/// Each connection is served by a task of its own (`ServedConnection`, on `NIOAsyncChannel`); the SQLite work happens
/// on worker threads (one writer doing group commit, a few readers), never on an event loop. Graceful shutdown stops
/// accepting, lets each connection answer what it has read and close, commits what is queued, and closes the store
/// (`serve(_:)`).
public final class LineServer: Service, Sendable {
    let config: ServerConfiguration
    let logger: Logger
    let state: ServerState
    /// How far the log is known to be covered by valid checkpoints, shared by the writer, the readers and the accounts.
    let coverage = CoverageMark()
    let bound = NIOLockedValueBox<SocketAddress?>(nil)
    let eventLoopGroup: MultiThreadedEventLoopGroup

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
        let tls: NIOSSLContext?
        let address: SocketAddress?
    }

    /// Checks the configuration and opens everything the server needs, or throws saying what is wrong.
    func prepare() throws -> Prepared {
        var sslContext: NIOSSLContext?
        if let cert = config.tlsCertificatePath, let key = config.tlsKeyPath {
            do {
                sslContext = try NIOSSLContext(configuration: TLSPolicy.server(certificatePath: cert, keyPath: key))
            } catch {
                throw TrialGateError(.tlsConfig, "cannot load the TLS certificate \(cert) or key \(key): \(error)")
            }
        } else if config.tlsCertificatePath != nil || config.tlsKeyPath != nil {
            throw TrialGateError(.tlsConfig, "TLS needs both --tls-cert and --tls-key")
        }
        // Whether the endpoint is local is decided on the address the host resolves to, which is also the address
        // bound, so a name such as 127.example.com or localhost.example.com is not taken for loopback.
        var address: SocketAddress?
        if case .tcp(let host, let port) = config.endpoint {
            do { address = try SocketAddress.makeAddressResolvingHost(host, port: port) } catch {
                throw TrialGateError(.listenFailed, "cannot resolve the --listen host \(LogText.quoted(host)): \(error)")
            }
        }
        if let address, !address.isLoopback, sslContext == nil, !config.allowInsecurePlaintext {
            throw TrialGateError(.insecureListen,
                "refusing plain TCP on \(config.endpoint) (\(address.ipAddress ?? "?")), which is reachable beyond this machine: give --tls-cert and --tls-key, or --insecure-plaintext")
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
        let makeDispatcher: @Sendable () throws -> Dispatcher = {
            let dispatcher = Dispatcher(store: try EventStore.open(path: storePath), clock: SystemClock(), key: { key })
            dispatcher.coverage = coverage
            return dispatcher
        }
        let snapshotter = ReportSnapshotter(interval: config.reportSnapshotInterval, covered: try head.reportSnapshotSizes().first ?? 0,
                                            logger: logger, makeDispatcher: makeDispatcher)
        state.committed(size: try head.head().size)
        head.close()
        let workers: Workers
        do {
            workers = try Workers(readers: max(1, config.readers), maxBatch: config.maxBatch, makeDispatcher: makeDispatcher,
                                  onCommit: { size in
                                      state.committed(size: size)
                                      snapshotter.committed(size: size)
                                  })
        } catch {
            Task { await snapshotter.stop() }
            throw error
        }
        snapshotter.committed(size: state.committedSize)
        return Prepared(workers: workers, snapshotter: snapshotter, tls: sslContext, address: address)
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
        let (workers, snapshotter) = (prepared.workers, prepared.snapshotter)
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
        do {
            try await serve(prepared)
        } catch {
            await workers.stop()
            await snapshotter.stop()
            throw error
        }
        await workers.stop()
        await snapshotter.stop()
        logger.info("stopped", metadata: ["log_size": "\(state.committedSize)"])
    }
}
