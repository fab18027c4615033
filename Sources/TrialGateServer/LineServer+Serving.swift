import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import TrialGateCore
import TrialGateService

extension LineServer {
    /// A connection as the listener hands it over: its channel, wrapped for the connection's task, and what its
    /// keeper shares with it.
    struct Accepted: Sendable {
        let channel: ServedConnection.Channel
        let peer: Peer
        let clock: NIOLockedValueBox<ConnectionClock>
    }

    /// The longest shutdown waits for connections to finish before it closes the rest.
    static let drainLimit: Duration = .seconds(30)

    /// Listens, serves each connection in a task of its own, and on graceful shutdown stops accepting, lets each
    /// connection answer what it has read (the request in progress with its result, the rest with shutting_down) and
    /// close, and returns once every connection has ended (closing those still open after `drainLimit`).
    func serve(_ prepared: Prepared) async throws {
        let listener = try await listen(prepared)
        bound.withLockedValue { $0 = listener.channel.localAddress }
        logger.info("listening", metadata: ["endpoint": .untrusted(listener.channel.localAddress.map { "\($0)" } ?? config.endpoint.description),
                                             "tls": "\(prepared.tls != nil)", "store": .untrusted(config.storePath)])
        let state = self.state
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Ends when the listener closes and the last connection has ended.
                await withDiscardingTaskGroup { connections in
                    try? await listener.executeThenClose { accepted in
                        for try await connection in accepted {
                            // On its channel's event loop (`EventLoopExecutor`): no thread hop between the task and its socket.
                            connections.addTask(executorPreference: EventLoopExecutor(connection.channel.channel.eventLoop)) {
                                await self.serve(connection, workers: prepared.workers)
                            }
                        }
                    }
                }
            }
            group.addTask {
                // Serve until asked to stop (SIGTERM / SIGINT through the service group, or cancellation).
                try? await gracefulShutdown()
                try? await listener.channel.close()
                state.drain()
                guard (try? await Task.sleep(for: Self.drainLimit)) != nil else { return }
                state.closeAll()
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Binds the configured endpoint; each accepted channel gets TLS (if configured), its keeper, and the wrapping
    /// its task reads and writes through.
    private func listen(_ prepared: Prepared) async throws -> NIOAsyncChannel<Accepted, Never> {
        let (tls, config, logger) = (prepared.tls, self.config, self.logger)
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(
                minimum: 64, initial: 2048, maximum: max(1024, config.requestBufferBytes / Self.readAhead)))
            .childChannelOption(.writeBufferWaterMark, value: .init(low: config.replyBufferBytes / 2, high: config.replyBufferBytes))
        let initialise: @Sendable (any Channel) -> EventLoopFuture<Accepted> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let peer = Peer(channel.remoteAddress)
                let clock = NIOLockedValueBox(ConnectionClock(deadlines: ConnectionDeadlines(
                    opened: channel.eventLoop.now, authTimeout: config.authTimeout, idleTimeout: config.idleTimeout)))
                let sync = channel.pipeline.syncOperations
                if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                try sync.addHandler(ConnectionKeeper(clock: clock, config: config, logger: logger, peer: peer))
                let wrapped = try ServedConnection.Channel(wrappingChannelSynchronously: channel, configuration: .init(
                    backPressureStrategy: .init(lowWatermark: Self.readAhead / 2, highWatermark: Self.readAhead),
                    isOutboundHalfClosureEnabled: false))
                return Accepted(channel: wrapped, peer: peer, clock: clock)
            }
        }
        do {
            switch config.endpoint {
            case .tcp: return try await bootstrap.bind(to: prepared.address!, childChannelInitializer: initialise)
            case .unix(let path):
                return try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: initialise)
            }
        } catch {
            throw TrialGateError(.listenFailed, "cannot listen on \(config.endpoint): \(error)")
        }
    }

    /// Reads a connection holds ahead of the request it is answering, at most.
    static let readAhead = 4

    /// Serves one accepted connection to its end: refused at once when the server is full or draining.
    func serve(_ accepted: Accepted, workers: Workers) async {
        let channel = accepted.channel.channel
        guard state.open(channel, from: accepted.peer.source) else {
            logger.warning("connection refused: too many connections or draining", metadata: ["peer": "\(accepted.peer)"])
            var refused = ServedConnection(server: self, workers: workers, channel: channel, peer: accepted.peer, clock: accepted.clock)
            refused.state = .closing(last: Self.line(.tooManyConnections, "the server is at its connection limit or shutting down; try again later"),
                                     graceful: true, linger: ConnectionKeeper.refusalLinger)
            await refused.run(accepted.channel)
            return
        }
        defer { state.close(channel) }
        var connection = ServedConnection(server: self, workers: workers, channel: channel, peer: accepted.peer, clock: accepted.clock)
        await connection.run(accepted.channel)
    }
}
