/// Which connections hold a slot, and whether a new one may have one: the connection limits as a pure value.
///
/// Three caps: all connections (`total`); connections that have not authenticated yet (`unauthenticated`, well below
/// the total, so that logged-in users always keep most of the slots); and unauthenticated connections from one
/// `PeerSource` (`perSource`). A new connection over an unauthenticated cap does not wait behind the squatters: the
/// oldest unauthenticated connection (of its source for the per-source cap) is evicted to make room. An honest
/// client holds an unauthenticated slot for one round trip, an idle or trickling one for up to the authentication
/// deadline, so the oldest is the likeliest squatter; pushing an honest client out needs a cap's worth of new
/// connections within that client's round trip. Authenticated connections are never evicted: when every slot is
/// held by a logged-in user, a new connection is refused.
///
/// The per-source cap is for remote sources. All of this machine is one source (`PeerSource.local`), so a local cap
/// would be the global one made smaller: local squatters that reconnect as fast as they are evicted would then push
/// out a local honest client after `perSource` connections instead of `unauthenticated` ones.
struct ConnectionTable<ID: Hashable> {
    struct Limits {
        var total: Int
        var unauthenticated: Int
        var perSource: Int
    }

    /// What to do with a new connection.
    enum Admission: Equatable {
        /// Admitted, after the connections listed are closed to make room.
        case admitted(evicting: [ID])
        case refused
    }

    private struct Entry {
        let source: PeerSource
        let order: UInt64
        var authenticated = false
    }

    let limits: Limits
    private var entries: [ID: Entry] = [:]
    /// Unauthenticated connections in the order they opened (order numbers only grow).
    private var waiting: [(order: UInt64, id: ID)] = []
    private var waitingPerSource: [PeerSource: Int] = [:]
    private var nextOrder: UInt64 = 0

    init(limits: Limits) {
        self.limits = Limits(total: max(1, limits.total), unauthenticated: max(1, limits.unauthenticated), perSource: max(1, limits.perSource))
    }

    var count: Int { entries.count }
    var unauthenticatedCount: Int { waiting.count }

    /// Admits `id` from `source`, unauthenticated, evicting what the caps require.
    mutating func admit(_ id: ID, from source: PeerSource) -> Admission {
        if entries.count >= limits.total && waiting.isEmpty { return .refused }
        var evicted: [ID] = []
        if source != .local, waitingPerSource[source, default: 0] >= limits.perSource, let victim = oldestWaiting(from: source) {
            remove(victim)
            evicted.append(victim)
        }
        if waiting.count >= limits.unauthenticated, let victim = oldestWaiting(from: nil) {
            remove(victim)
            evicted.append(victim)
        }
        if entries.count >= limits.total, let victim = oldestWaiting(from: nil) {
            remove(victim)
            evicted.append(victim)
        }
        entries[id] = Entry(source: source, order: nextOrder)
        waiting.append((nextOrder, id))
        waitingPerSource[source, default: 0] += 1
        nextOrder += 1
        return .admitted(evicting: evicted)
    }

    /// `id` has authenticated: it no longer counts against the unauthenticated caps.
    mutating func authenticated(_ id: ID) {
        guard var entry = entries[id], !entry.authenticated else { return }
        entry.authenticated = true
        entries[id] = entry
        dropWaiting(id, entry)
    }

    /// `id` closed (or was evicted).
    mutating func remove(_ id: ID) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        if !entry.authenticated { dropWaiting(id, entry) }
    }

    private mutating func dropWaiting(_ id: ID, _ entry: Entry) {
        if let i = waiting.firstIndex(where: { $0.id == id }) { waiting.remove(at: i) }
        waitingPerSource[entry.source, default: 1] -= 1
        if waitingPerSource[entry.source] == 0 { waitingPerSource[entry.source] = nil }
    }

    private func oldestWaiting(from source: PeerSource?) -> ID? {
        guard let source else { return waiting.first?.id }
        return waiting.first { entries[$0.id]?.source == source }?.id
    }
}
