import Foundation
import NIOConcurrencyHelpers
import NIOCore
import TrialGateCore
import TrialGateService

/// Shared, thread-safe bookkeeping of a running server: log size for subscribers, open connections and their
/// limits, failed authentications per source.
final class ServerState: @unchecked Sendable {
    private let lock = NIOLock()
    private var logSize: Int64 = 0
    private var channels: [ObjectIdentifier: Channel] = [:]
    private var table: ConnectionTable<ObjectIdentifier>
    private var limiter: AuthFailureLimiter
    private var draining = false
    private var directory = UserDirectory()
    private var subscribers: [ObjectIdentifier: (channel: Channel, principal: Principal)] = [:]

    init(limits: ConnectionTable<ObjectIdentifier>.Limits, authFailures: AuthFailureLimiter) {
        table = ConnectionTable(limits: limits)
        limiter = authFailures
    }

    /// The accounts in force, as the account watcher last folded them from the log.
    var users: UserDirectory { lock.withLock { directory } }

    /// Whether a session's principal may still act now (its account in force, its token not rotated).
    func allows(_ principal: Principal) -> Bool {
        let now = SystemClock().now()
        return lock.withLock { directory.allows(principal, now: now) }
    }

    /// Installs a newly folded directory and closes every subscription whose principal it no longer allows.
    /// - Returns: the names of the principals whose subscriptions were closed.
    @discardableResult
    func install(_ users: UserDirectory, now: UTCTimestamp) -> [String] {
        let revoked: [(Channel, String)] = lock.withLock {
            directory = users
            return subscribers.values.filter { !users.allows($0.principal, now: now) }.map { ($0.channel, $0.principal.name) }
        }
        for (channel, _) in revoked { channel.close(promise: nil) }
        return revoked.map(\.1)
    }

    /// Registers a subscription, so it can be closed when its principal is revoked.
    func subscribed(_ channel: Channel, principal: Principal) {
        lock.withLock { subscribers[ObjectIdentifier(channel)] = (channel, principal) }
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
            subscribers[id] = nil
            table.remove(id)
        }
    }

    /// Closes every connection still open (shutdown, once connections have had their time to finish).
    func closeAll() {
        for channel in lock.withLock({ Array(channels.values) }) { channel.close(promise: nil) }
    }

    /// The server is shutting down (`drain`).
    var isDraining: Bool { lock.withLock { draining } }

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

/// What the server tells a connection (through its `ConnectionKeeper`) from outside its event loop.
enum ConnectionEvent: Sendable {
    /// The server is shutting down.
    case draining
    /// Closed to make room for a newer connection under the unauthenticated caps.
    case evicted
}
