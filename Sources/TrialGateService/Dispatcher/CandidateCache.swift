import TrialGateCore

/// The writer's folded candidates, so that a write about a candidate does not re-read its whole history.
typealias CandidateCache = BoundedCache<CandidateState>

/// What a dispatcher keeps per candidate, by candidate id, bounded.
///
/// At most `capacity` entries are kept, the most recently used ones. An entry not kept is computed again
/// from the store when next needed, so the bound trades a re-read for memory and never changes a result.
/// Without it a long-running server would keep every candidate it ever saw.
///
/// A full cache drops one entry, the least recently used, for each one it takes in. (It used to drop a quarter of its
/// entries at once: on the writer, freeing 257 folded candidates with their decisions and copying the rest held a
/// batch of decisions for about 100 ms.)
struct BoundedCache<Value> {
    let capacity: Int
    private var entries: [String: (state: Value, used: UInt64)] = [:]
    private var tick: UInt64 = 0
    /// Every use in the order it happened, oldest first, from `next` on: an id's newest use is its entry's `used`,
    /// an older use of it is stale and skipped. Stale uses are dropped once they outnumber the entries three to one,
    /// so a use costs O(1), amortised.
    private var uses: [(id: String, tick: UInt64)] = []
    private var next = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a bounded cache holds at least one entry")
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The candidate as last folded here, marked as just used.
    mutating func get(_ id: String) -> Value? {
        guard let entry = entries[id] else { return nil }
        tick += 1
        entries[id] = (entry.state, tick)
        noteUse(id)
        return entry.state
    }

    /// The candidate as last folded here, without marking it used.
    func peek(_ id: String) -> Value? { entries[id]?.state }

    /// Removes the candidate's entry and returns it, so that its owner holds the only copy.
    mutating func take(_ id: String) -> Value? { entries.removeValue(forKey: id)?.state }

    mutating func put(_ state: Value, for id: String) {
        tick += 1
        entries[id] = (state, tick)
        noteUse(id)
        while entries.count > capacity { evictLeastRecentlyUsed() }
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: false)
        uses.removeAll(keepingCapacity: false)
        next = 0
    }

    private mutating func noteUse(_ id: String) {
        uses.append((id, tick))
        if uses.count > 4 * capacity + 16 {
            uses = uses[next...].filter { entries[$0.id]?.used == $0.tick }
            next = 0
        }
    }

    /// Drops the entry whose newest use is the oldest.
    private mutating func evictLeastRecentlyUsed() {
        while next < uses.count {
            let use = uses[next]
            next += 1
            if entries[use.id]?.used == use.tick {
                entries.removeValue(forKey: use.id)
                return
            }
        }
    }
}
