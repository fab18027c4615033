import Foundation
import NIOConcurrencyHelpers
import NIOCore
import TrialGateCore
import TrialGateService

/// Shared, thread-safe bookkeeping of a running server: log size for subscribers, open connections,
/// failed authentications per peer.
final class ServerState: @unchecked Sendable {
    private let lock = NIOLock()
    private var logSize: Int64 = 0
    private var connections: [ObjectIdentifier: (channel: Channel, busy: Bool)] = [:]
    private var failures: [String: [Date]] = [:]
    private(set) var draining = false
    private var directory = UserDirectory()
    private var subscribers: [ObjectIdentifier: (channel: Channel, principal: Principal)] = [:]

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

    /// Registers a connection; false when `limit` connections are already open.
    func open(_ channel: Channel, limit: Int) -> Bool {
        lock.withLock {
            guard connections.count < limit, !draining else { return false }
            connections[ObjectIdentifier(channel)] = (channel, false)
            return true
        }
    }

    func close(_ channel: Channel) {
        lock.withLock {
            connections.removeValue(forKey: ObjectIdentifier(channel))
            subscribers.removeValue(forKey: ObjectIdentifier(channel))
        }
    }

    /// Marks a connection busy with a request (true) or idle (false); idle connections are closed at once
    /// when the server drains. Returns false if the server is draining and the connection should stop.
    func setBusy(_ channel: Channel, _ busy: Bool) -> Bool {
        lock.withLock {
            connections[ObjectIdentifier(channel)]?.busy = busy
            return !draining
        }
    }

    var openConnections: Int { lock.withLock { connections.count } }

    /// Stops accepting work: idle connections are closed now, busy ones after their reply.
    func drain() {
        let idle: [Channel] = lock.withLock {
            draining = true
            return connections.values.filter { !$0.busy }.map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }

    /// Records a failed authentication from `peer`; true if the peer is now over the limit.
    func authFailed(peer: String, limit: Int, window: TimeInterval) -> Bool {
        lock.withLock {
            let now = Date()
            var recent = (failures[peer] ?? []).filter { now.timeIntervalSince($0) < window }
            recent.append(now)
            failures[peer] = recent
            return recent.count >= limit
        }
    }

    /// Whether `peer` is refused for too many recent failures.
    func isLimited(peer: String, limit: Int, window: TimeInterval) -> Bool {
        lock.withLock {
            let now = Date()
            return (failures[peer] ?? []).filter { now.timeIntervalSince($0) < window }.count >= limit
        }
    }
}
