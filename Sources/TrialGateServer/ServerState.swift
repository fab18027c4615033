import Foundation
import NIOConcurrencyHelpers
import NIOCore
import TrialGateService

/// Shared, thread-safe bookkeeping of a running server: log size for subscribers, open connections,
/// failed authentications per peer.
final class ServerState: @unchecked Sendable {
    private let lock = NIOLock()
    private var logSize: Int64 = 0
    private var connections: [ObjectIdentifier: (channel: Channel, busy: Bool)] = [:]
    private var failures: [String: [Date]] = [:]
    private(set) var draining = false
    private var usersCache: (modified: Date, directory: UserDirectory)?

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

    /// Registers a connection; false when `limit` connections are already open.
    func open(_ channel: Channel, limit: Int) -> Bool {
        lock.withLock {
            guard connections.count < limit, !draining else { return false }
            connections[ObjectIdentifier(channel)] = (channel, false)
            return true
        }
    }

    func close(_ channel: Channel) { lock.withLock { _ = connections.removeValue(forKey: ObjectIdentifier(channel)) } }

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
