import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// What the dispatcher vouches for before it extends or signs anything: the log's head is exactly what the newest
/// signed checkpoint covers, and the key history that says which key is in force verifies.
///
/// Every TrialGate write ends with a checkpoint of the new head in the same transaction, so an honest log is
/// always covered. An event beyond the newest checkpoint was written by someone else (with `sqlite3`, without the
/// key); signing a new checkpoint over it would make it indistinguishable from a real one, so nothing is written
/// until `trialgate verify` has been run and the store repaired. This is not a full verify: it costs one
/// checkpoint read, one signature check and the tree's right border, and is skipped while the head is the one
/// this process itself committed.
extension Dispatcher {

    /// The trial, the policies and the key history folded, after checking every key rotation's signatures.
    /// - Throws: `key_chain_invalid` naming the first rotation that does not verify.
    static func baseState(_ store: EventStore, head: LogHead) throws -> LogState {
        let events = try store.events(types: [.trialInitialised, .policyPublished, .keyRotated, .modelRegistered] + EventType.accountEvents)
        let state = try LogState(partial: events, head: (head.size, head.hash))
        if let trial = state.trial,
           let problem = KeyChain.firstProblem(trial: trial, keys: state.keys, rotations: events.filter { $0.type == .keyRotated }) {
            throw TrialGateError(.keyChainInvalid, "event \(problem.seq): \(problem.message): the trial's key in force cannot be trusted,"
                               + " so nothing is written; run `trialgate verify`")
        }
        return state
    }

    /// Why the log's head at `head` is not vouched for by the newest stored checkpoint, or nil when it is.
    /// - Parameters:
    ///   - base: the trial and key history, with the key chain verified.
    ///   - frontier: the tree's border at `head.size` with its newest leaves hashed from the stored bytes
    ///     (`EventStore.frontierCheckingTail`), or why those bytes do not hold.
    static func uncoveredHead(_ head: LogHead, base: LogState, latest: EventStore.StoredCheckpoint?,
                              frontier: () throws -> Result<MerkleFrontier, TrialGateError>) throws -> TrialGateError? {
        func uncovered(_ seq: Int64, _ why: String) -> TrialGateError {
            TrialGateError(.logUncovered, "event \(seq): \(why); the log may have been changed outside TrialGate, so nothing is written or"
                         + " signed over it: run `trialgate verify`")
        }
        guard head.size > 0 else { return nil }
        guard let latest else { return uncovered(1, "the log has \(head.size) events and no signed checkpoint") }
        if latest.size < head.size {
            return uncovered(latest.size + 1, "not covered by a signed checkpoint (the newest covers \(latest.size) events, the log has \(head.size))")
        }
        if latest.size > head.size {
            return uncovered(head.size, "a checkpoint of \(latest.size) events was signed but the log has \(head.size): its tail was cut off")
        }
        guard let trial = base.trial, let key = base.signingKey, let raw = Data(base64Encoded: key.publicKey).map(Array.init),
              let verifier = try? NoteVerifierKey(name: trial.logOrigin, publicKey: raw) else {
            return uncovered(1, "the log names no trial key")
        }
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint.open(latest.note, keys: [verifier]).checkpoint } catch {
            return uncovered(head.size, "the newest checkpoint (size \(latest.size)) is not signed by the trial's key in force (\(key.keyID))")
        }
        let border: MerkleFrontier
        switch try frontier() {
        case .success(let f): border = f
        case .failure(let e): return uncovered(head.size, e.message)
        }
        guard checkpoint.origin == trial.logOrigin, checkpoint.size == head.size, checkpoint.root == border.root else {
            return uncovered(head.size, "the newest checkpoint (size \(latest.size)) does not sign the root of the stored events")
        }
        return nil
    }

    /// Throws `key_not_in_force` unless `key` is the key in force in `base`.
    static func requireKeyInForce(_ key: TrialKey, _ base: LogState) throws {
        guard let inForce = base.signingKey, inForce.keyID != key.keyID else { return }
        throw TrialGateError(.keyNotInForce, "the signing key given (key id \(key.keyID)) is not the trial's key in force (key id \(inForce.keyID),"
                           + " since event \(inForce.seq)); pass the key in force with --key FILE or TRIALGATE_KEY=FILE; nothing was written")
    }

    /// Before a write transaction appends anything: the head must be covered, the key chain must verify and the
    /// signing key must be the one in force.
    /// - Throws: `log_uncovered`, `key_chain_invalid` or `key_not_in_force`; the write is refused whole.
    func vouchForHead(_ txn: EventStore.WriteTransaction, store: EventStore) throws {
        guard store.maintainsMerkleTree else { return }
        let head = txn.head
        guard head.size > 0 else { return }
        let latest = try store.latestCheckpoint()
        // Skipped while the head and the newest checkpoint are exactly those last vouched for or written here.
        if vouched?.head != head || vouched?.note != latest?.note {
            if head.size != cacheHead { dropCaches() }
            let base = try baseState ?? Self.baseState(store, head: head)
            var checked: MerkleFrontier?
            if let problem = try Self.uncoveredHead(head, base: base, latest: latest, frontier: {
                let f = try store.frontierCheckingTail(size: head.size)
                if case .success(let border) = f { checked = border }
                return f
            }) {
                throw problem
            }
            // What this write appends extends the tree as checked, not as the stored subtrees alone say.
            if let checked { txn.adopt(checked) }
            baseState = base
            cacheHead = head.size
            vouched = latest.map { (head, $0.note) }
            coverage.raise(to: head)
        }
        if let base = baseState { try Self.requireKeyInForce(try key(), base) }
    }

    /// A warning for readers when the head is not covered by a valid checkpoint (nil when it is): `show`, `export`
    /// and `report` carry it, so a tail written outside TrialGate never looks clean.
    public func headWarning() throws -> String? {
        let store = try requireStore()
        guard store.maintainsMerkleTree else { return nil }
        return try store.reading { () throws -> String? in
            let head = try store.head()
            if head.size == 0 || head == coverage.head { return nil }
            let latest = try store.latestCheckpoint()
            do {
                let base = try Self.baseState(store, head: head)
                if let problem = try Self.uncoveredHead(head, base: base, latest: latest,
                                                        frontier: { try store.frontierCheckingTail(size: head.size) }) {
                    return problem.message
                }
            } catch {
                return TrialGateError(error).message
            }
            coverage.raise(to: head)
            return nil
        }
    }

    /// Checks, before a server starts, that `key` is the trial's key in force and its key history verifies.
    /// - Throws: `key_not_in_force` or `key_chain_invalid`.
    public func checkSigningKey() throws {
        do {
            let store = try requireStore()
            let base = try Self.baseState(store, head: try store.head())
            try Self.requireKeyInForce(try key(), base)
        } catch {
            throw TrialGateError(error)
        }
    }
}

/// How many events of the log are known to be covered by valid signed checkpoints. Shared by a server's writer
/// (which raises it after each commit it checkpointed) and its readers, so a read checks coverage with one
/// comparison and does the checkpoint's signature and root only for events beyond the mark.
public final class CoverageMark: @unchecked Sendable {
    private let lock = NSLock()
    private var value = LogHead(size: 0, hash: Event.genesisHash)

    public init() {}

    /// The newest head known to be covered.
    public var head: LogHead { lock.withLock { value } }

    /// The covered size.
    public var size: Int64 { head.size }

    /// Raises the mark to `head` if it is longer (a late, shorter report never lowers it).
    public func raise(to head: LogHead) { lock.withLock { if head.size > value.size { value = head } } }
}
