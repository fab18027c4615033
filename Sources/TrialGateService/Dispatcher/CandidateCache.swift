import TrialGateCore

/// The writer's folded candidates, so that a write about a candidate does not re-read its whole history.
typealias CandidateCache = BoundedCache<CandidateState>

/// What a dispatcher keeps per candidate, by candidate id, bounded.
///
/// At most `capacity` entries are kept, the most recently used ones. An entry not kept is computed again
/// from the store when next needed, so the bound trades a re-read for memory and never changes a result.
/// Without it a long-running server would keep every candidate it ever saw.
struct BoundedCache<Value> {
    let capacity: Int
    private var entries: [String: (state: Value, used: UInt64)] = [:]
    private var tick: UInt64 = 0

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
        return entry.state
    }

    /// The candidate as last folded here, without marking it used.
    func peek(_ id: String) -> Value? { entries[id]?.state }

    /// Removes the candidate's entry and returns it, so that its owner holds the only copy.
    mutating func take(_ id: String) -> Value? { entries.removeValue(forKey: id)?.state }

    mutating func put(_ state: Value, for id: String) {
        tick += 1
        entries[id] = (state, tick)
        if entries.count > capacity { evictLeastRecentlyUsed() }
    }

    mutating func removeAll() { entries.removeAll(keepingCapacity: false) }

    /// Drops the least recently used quarter (at least one), so eviction costs O(log n) per insertion.
    private mutating func evictLeastRecentlyUsed() {
        let drop = max(1, entries.count - capacity * 3 / 4)
        let stamps = entries.values.map(\.used).sorted()
        let cutoff = stamps[drop - 1]
        entries = entries.filter { $0.value.used > cutoff }
    }
}
