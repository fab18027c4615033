import Foundation
import NIOConcurrencyHelpers
import NIOCore
import TrialGateService

/// Shared, thread-safe bookkeeping of a running server: log size for subscribers, open connections and their
/// limits, failed authentications per source.
final class ServerState: @unchecked Sendable {
    private let lock = NIOLock()
    private var logSize: Int64 = 0
    private var channels: [ObjectIdentifier: Channel] = [:]
    private var table: ConnectionTable<ObjectIdentifier>
    private var limiter: AuthFailureLimiter
    private(set) var draining = false
    private var usersCache: (modified: Date, directory: UserDirectory)?

    init(limits: ConnectionTable<ObjectIdentifier>.Limits, authFailures: AuthFailureLimiter) {
        table = ConnectionTable(limits: limits)
        limiter = authFailures
    }

    /// The users file, re-read only when it changed on disk, so new users need no restart.
    func users(path: String) throws -> UserDirectory {
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
        if let cached = lock.withLock({ usersCache }), cached.modified == modified { return cached.directory }
        let directory = try UserDirectory.load(path: path)
        lock.withLock { usersCache = (modified, directory) }
        return directory
    }

    /// The newest committed log size, as the writer last reported it.
    var committedSize: Int64 { lock.withLock { logSize } }

    func committed(size: Int64) { lock.withLock { logSize = max(logSize, size) } }

    /// Registers a new, unauthenticated connection from `source`; false when it must be refused (the server is full of
    /// logged-in users, or draining). Connections evicted to make room are told so on their own event loops.
    func open(_ channel: Channel, from source: PeerSource) -> Bool {
        let id = ObjectIdentifier(channel)
        let evicted: [Channel]? = lock.withLock {
            guard !draining, case .admitted(let ids) = table.admit(id, from: source) else { return nil }
            channels[id] = channel
            return ids.compactMap { channels.removeValue(forKey: $0) }
        }
        guard let evicted else { return false }
        for victim in evicted { victim.pipeline.fireUserInboundEventTriggered(ConnectionEvent.evicted) }
        return true
    }

    /// The connection has authenticated: it leaves the unauthenticated caps.
    func authenticated(_ channel: Channel) { lock.withLock { table.authenticated(ObjectIdentifier(channel)) } }

    func close(_ channel: Channel) {
        lock.withLock {
            let id = ObjectIdentifier(channel)
            channels[id] = nil
            table.remove(id)
        }
    }

    var openConnections: Int { lock.withLock { channels.count } }
    var unauthenticatedConnections: Int { lock.withLock { table.unauthenticatedCount } }

    /// Stops accepting connections and tells each open one to finish: answer what it has read, then close.
    func drain() {
        let open: [Channel] = lock.withLock {
            draining = true
            return Array(channels.values)
        }
        for channel in open { channel.pipeline.fireUserInboundEventTriggered(ConnectionEvent.draining) }
    }

    /// Records a failed authentication from `source`; true if the source is now over the limit.
    func authFailed(from source: PeerSource) -> Bool {
        lock.withLock { limiter.recordFailure(from: source, now: .now()) }
    }

    /// Whether `source` has failed too often lately.
    func isLimited(_ source: PeerSource) -> Bool {
        lock.withLock { limiter.isLimited(source, now: .now()) }
    }

    /// How many sources the failure limiter remembers.
    var limiterSources: Int { lock.withLock { limiter.count } }
}

/// What the server tells a connection's handler from outside its event loop.
enum ConnectionEvent: Sendable {
    /// The server is shutting down.
    case draining
    /// Closed to make room for a newer connection under the unauthenticated caps.
    case evicted
}
