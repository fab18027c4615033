import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Signs and stores a checkpoint of the log as `txn` leaves it, unless one of that size exists already.
    /// The key must be the trial's key in force; a write that cannot be checkpointed is refused.
    func issueCheckpoint(_ txn: EventStore.WriteTransaction) throws {
        let store = try requireStore()
        let size = txn.head.size
        guard store.maintainsMerkleTree, !txn.appended.isEmpty, txn.checkpointedSize != size else { return }
        if baseState == nil || cacheHead != size {
            baseState = try Self.baseState(store, head: txn.head)
            candidateStates.removeAll()
            cacheHead = size
        }
        guard let base = baseState, let trial = base.trial, base.signingKey != nil else {
            throw TrialGateError(.storeCorrupt, "the log does not begin with trial.initialised")
        }
        let signer = try noteSigner(origin: trial.logOrigin)
        try Self.requireKeyInForce(signer.key, base)
        let checkpoint = Checkpoint(origin: trial.logOrigin, size: size, root: try txn.treeRoot())
        try txn.addCheckpoint(size: size, issuedAt: clock.now(), note: try checkpoint.signed(by: [signer]))
    }

    /// A commit of this dispatcher's ended with a checkpoint it signed: the head it left is covered.
    func committedCovered(_ store: EventStore) {
        if let head = store.lastCommittedHead, store.maintainsMerkleTree {
            if let note = store.lastCommittedCheckpoint { vouched = (head, note) }
            coverage.raise(to: head)
        }
    }

    /// Appends the events `build` returns, in one durable transaction, after checking each against the
    /// rules of the log.
    /// - Parameter candidate: whose events `build` needs to see (nil for none).
    func append(candidate: String?, actor: String,
                _ build: (LogState, UTCTimestamp) throws -> [EventDraft]) throws -> [Event] {
        let store = try requireStore()
        do {
            if let txn = batchTransaction { return try appendIn(txn, store: store, candidate: candidate, actor: actor, build) }
            let events = try store.write { txn in
                try vouchForHead(txn, store: store)
                let events = try appendIn(txn, store: store, candidate: candidate, actor: actor, build)
                try issueCheckpoint(txn)
                return events
            }
            committedCovered(store)
            return events
        } catch {
            dropCaches()
            throw error
        }
    }

    /// Runs `body`, whose appends all land in one durable transaction (the batch's, when one is open).
    func inOneTransaction<T>(_ body: () throws -> T) throws -> T {
        if batchTransaction != nil { return try body() }
        let store = try requireStore()
        do {
            let result = try store.write { txn in
                try vouchForHead(txn, store: store)
                batchTransaction = txn
                defer { batchTransaction = nil }
                let result = try body()
                try issueCheckpoint(txn)
                return result
            }
            committedCovered(store)
            return result
        } catch {
            dropCaches()
            throw error
        }
    }

    private func appendIn(_ txn: EventStore.WriteTransaction, store: EventStore, candidate: String?, actor: String,
                          _ build: (LogState, UTCTimestamp) throws -> [EventDraft]) throws -> [Event] {
        let firstNew = txn.appended.count
        let head = txn.head
        if head.size != cacheHead { dropCaches() }
        if baseState == nil {
            baseState = try Self.baseState(store, head: head)
        }
        var base = baseState!
        if head.size > 0, base.trial == nil {
            throw TrialGateError(.storeCorrupt, "the log does not begin with trial.initialised")
        }
        var state = base
        if let candidate {
            // Taken out of the cache, not copied, so the fold appends to the candidate's arrays in place; it goes back below.
            if let known = candidateStates.take(candidate) {
                state.insert(known)
            } else if let folded = try LogState(partial: store.events(candidate: candidate), head: (0, "")).candidates[candidate] {
                state.insert(folded)
            }
        }
        state.setHead(size: head.size, hash: head.hash)
        let now = clock.now()
        let before = candidate.flatMap { state.candidates[$0] }
        func add(_ draft: EventDraft) throws {
            let (event, body) = HashChain.sealWithBody(draft, seq: txn.head.size + 1, prevHash: txn.head.hash)
            try state.apply(event, strict: false)  // checks the event against the state first, as replay does
            try txn.append(event, canonicalBody: body)
            if event.candidate == nil { try base.apply(event, strict: false) }
        }
        for draft in try build(state, now) { try add(draft) }
        // A write that makes the candidate's current decision stale opens a review query on it, in the same commit.
        if let candidate, let after = state.candidates[candidate],
           let query = Self.staleQuery(before: before, after: after, policies: state.policies, actor: actor, now: now) {
            try add(query)
        }
        baseState = base
        if let candidate, let folded = state.candidates[candidate] { candidateStates.put(folded, for: candidate) }
        cacheHead = txn.head.size
        return Array(txn.appended[firstNew...])
    }
}
