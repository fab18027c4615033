import NIOCore

/// Counts failed authentications per `PeerSource` and says when a source has failed too often.
///
/// It sheds floods; it does not guard the tokens, whose 256 random bits no online guessing reaches. So it never
/// refuses a valid token (the server checks the token first, and a limited source that presents a good one is
/// let in), which is what keeps a flood of bad tokens from an address a valid user shares, such as a site's NAT
/// or this machine's loopback, from locking that user out. Memory is bounded: entries whose window has passed are
/// pruned, and past `capacity` sources the one that failed least recently is forgotten. Time is an argument.
struct AuthFailureLimiter {
    let limit: Int
    let window: TimeAmount
    let capacity: Int
    /// The times of each source's recent failures, oldest first, at most `limit` of them.
    private var failures: [PeerSource: [NIODeadline]] = [:]
    private var insertsSincePrune = 0

    init(limit: Int, window: TimeAmount, capacity: Int) {
        self.limit = max(1, limit)
        self.window = window
        self.capacity = max(1, capacity)
    }

    /// How many sources are remembered.
    var count: Int { failures.count }

    /// Whether `source` has failed `limit` times within the window before `now`.
    func isLimited(_ source: PeerSource, now: NIODeadline) -> Bool {
        recent(failures[source] ?? [], now: now).count >= limit
    }

    /// Records a failure; returns true if `source` is limited now (this failure included).
    mutating func recordFailure(from source: PeerSource, now: NIODeadline) -> Bool {
        var times = Array(recent(failures[source] ?? [], now: now))
        times.append(now)
        if times.count > limit { times.removeFirst(times.count - limit) }
        if failures[source] == nil {
            insertsSincePrune += 1
            if failures.count >= capacity || insertsSincePrune >= capacity / 4 { prune(now: now) }
        }
        failures[source] = times
        return times.count >= limit
    }

    /// Forgets sources whose window has passed; if still at capacity, the least recently failed one.
    mutating func prune(now: NIODeadline) {
        insertsSincePrune = 0
        failures = failures.filter { !recent($0.value, now: now).isEmpty }
        while failures.count >= capacity, let stalest = failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key {
            failures[stalest] = nil
        }
    }

    private func recent(_ times: [NIODeadline], now: NIODeadline) -> ArraySlice<NIODeadline> {
        times.drop { now - $0 >= window }
    }
}
