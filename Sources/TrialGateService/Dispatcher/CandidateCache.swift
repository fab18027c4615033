import TrialGateCore

/// The writer's folded candidates, so that a write about a candidate does not re-read its whole history.
///
/// Bounded: at most `capacity` candidates are kept, the most recently used ones. A candidate not kept is
/// folded again from the store on its next write, so the bound trades a re-read for memory and never
/// changes a result. Without it a long-running server would keep every candidate it ever wrote.
struct CandidateCache {
    let capacity: Int
    private var entries: [String: (state: CandidateState, used: UInt64)] = [:]
    private var tick: UInt64 = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a candidate cache holds at least one candidate")
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The candidate as last folded here, marked as just used.
    mutating func get(_ id: String) -> CandidateState? {
        guard let entry = entries[id] else { return nil }
        tick += 1
        entries[id] = (entry.state, tick)
        return entry.state
    }

    /// The candidate as last folded here, without marking it used.
    func peek(_ id: String) -> CandidateState? { entries[id]?.state }

    mutating func put(_ state: CandidateState, for id: String) {
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
