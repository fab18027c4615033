import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// The one place every command is carried out, whether it came from the CLI, `exec` or the socket.
///
/// Edges turn their input into `Command` values and hand them here with the authenticated actor; the
/// dispatcher answers a JSON result or throws a `TrialGateError`. One dispatcher serves one owner at a time
/// (it caches what it read from the store); a server gives it to a single writer task.
public final class Dispatcher: @unchecked Sendable {
    /// The event store, or nil for commands that need none (`policy.check`, `policy.test`).
    public let store: EventStore?
    let clock: any TimeSource
    let keyProvider: () throws -> TrialKey
    var cachedKey: TrialKey?
    var cachedSigner: NoteSigner?
    var policyCache: [String: Policy] = [:]
    /// The open transaction while a batch runs; single commands open their own.
    var batchTransaction: EventStore.WriteTransaction?
    /// Set while a sign-off of a socket session that has signed before runs: it may give the signing code alone.
    var signingSessionContinues = false
    /// The policies published, without their texts, as `publishedPolicies()` last read them.
    var policyHeaders: [PublishedPolicy]?
    /// When each account's recent refused signature components happened (the server's one writer sees them all).
    var signingFailures: [String: [UTCTimestamp]] = [:]
    /// Refused components an account may give within `accountFailureWindow` before signing is refused to it, from
    /// any session, until the window has passed.
    static let accountFailureLimit = 5
    static let accountFailureWindow: Int64 = 15 * 60_000
    /// Events every write needs (the trial event and the policies), read once and then only what is new.
    /// Events are never changed or removed, so the cache only grows; it is dropped after any failed write,
    /// in case what it read was rolled back.
    /// The trial and policies folded, and each candidate folded, as last read or written here. Valid while
    /// nobody else has written: `cacheHead` is the log size this dispatcher last saw, and any other size
    /// empties the cache. Events are never changed or removed, so a valid cache is the log's own state.
    var baseState: LogState?
    var candidateStates: CandidateCache
    var cacheHead: Int64 = -1
    /// Candidate views as last shown here, each with the newest event it was built from. A candidate's
    /// events only ever grow, so a view is current exactly while that event is still the candidate's newest;
    /// `show` and the site check of the access rules reuse it then instead of refolding the history.
    var candidateViews: BoundedCache<ShownCandidate>

    /// Whether folds over many events (reports, snapshots, `verify`, `replay`) parse them on two threads of the
    /// global queue besides this one. Off for background work that must stay at its own thread's low priority:
    /// those threads run at the normal one and would take the cores from the writer.
    public var parallelFolds = true

    /// Told how far a long pass over the log has come (events done, events in all): `verify`, `replay` and a report
    /// folded without a snapshot call it every few thousand events. The command line shows it on a terminal.
    public var progress: (@Sendable (_ done: Int64, _ total: Int64) -> Void)?

    /// Views found current during the one command being carried out for a principal (nil outside one): the
    /// site check of the access rules and `show` then ask the store once for the candidate's newest event.
    var viewChecks: [String: ShownCandidate]?

    struct ShownCandidate {
        /// The candidate's registration event: its events are the log's events with this `registration_seq`.
        let registration: Int64
        let seq: Int64
        let hash: String
        let site: String
        /// The newest policy publication when the view was built: a newer one can make its decision stale.
        let policySeq: Int64
        let view: CandidateReply
        /// `view` in canonical JSON (RFC 8785), as a reply carries it.
        let encoded: [UInt8]
    }

    /// How many candidates the cache holds at most (the most recently written ones).
    public static let defaultCandidateCacheCapacity = 1024

    /// How many folded candidates the dispatcher holds now (bounded by its capacity).
    public var cachedCandidateCount: Int { candidateStates.count }

    /// The head this dispatcher last found covered by a valid signed checkpoint, and that checkpoint's note
    /// (`vouchForHead`), or last committed with a checkpoint of its own.
    var vouched: (head: LogHead, note: String)?
    /// How far the log is known to be covered by valid checkpoints; a server's writer and readers share one.
    public var coverage = CoverageMark()

    func dropCaches() {
        baseState = nil
        candidateStates.removeAll()
        candidateViews.removeAll()
        cacheHead = -1
    }

    /// - Parameters:
    ///   - store: the open store, if the command needs one.
    ///   - clock: where "now" comes from.
    ///   - key: loads the trial's signing key when a command needs it (`init`, `decide`).
    ///   - candidateCacheCapacity: how many folded candidates to keep between writes.
    public init(store: EventStore?, clock: any TimeSource, key: @escaping () throws -> TrialKey,
                candidateCacheCapacity: Int = defaultCandidateCacheCapacity) {
        self.store = store
        self.candidateStates = CandidateCache(capacity: candidateCacheCapacity)
        self.candidateViews = BoundedCache(capacity: candidateCacheCapacity)
        self.clock = clock
        self.keyProvider = key
    }

    /// The site a registered candidate belongs to, after corrections.
    func siteOf(candidate: String) throws -> String? {
        // Inside a batch the writer's folded candidate is current whenever its cache is.
        if let txn = batchTransaction, txn.head.size == cacheHead, let known = candidateStates.peek(candidate) { return known.site }
        if let shown = try currentView(of: candidate, markUsed: false) { return shown.site }
        // Only the registration and its corrections matter, not the candidate's whole history.
        let events = try requireStore().events(candidate: candidate, types: [.candidateRegistered, .entryCorrected])
        guard let registration = events.first(where: { $0.type == .candidateRegistered }) else { return nil }
        return Registration.site(Registration.corrected(registration, by: events.lazy.compactMap(EntryCorrection.init)))
    }

    /// The view of `candidate` shown here last, if it is still current: the candidate's newest event is still
    /// the one it was built from.
    func currentView(of candidate: String, markUsed: Bool) throws -> ShownCandidate? {
        if let checked = viewChecks?[candidate] {
            if markUsed { _ = candidateViews.get(candidate) }
            return checked
        }
        guard let shown = markUsed ? candidateViews.get(candidate) : candidateViews.peek(candidate),
              let newest = try requireStore().newestEvent(registrationSeq: shown.registration), newest.seq == shown.seq, newest.hash == shown.hash,
              newest.policySeq == shown.policySeq
        else { return nil }
        viewChecks?[candidate] = shown
        return shown
    }

    func requireStore() throws -> EventStore {
        guard let store else { throw TrialGateError(ErrorCode.noStore, "this command needs a store (--store PATH)") }
        return store
    }

    func key() throws -> TrialKey {
        if let cachedKey { return cachedKey }
        let k = try keyProvider()
        cachedKey = k
        return k
    }

    func noteSigner(origin: String) throws -> NoteSigner {
        let key = try key()
        if let cachedSigner, cachedSigner.verifier.name == origin, cachedSigner.key.keyID == key.keyID { return cachedSigner }
        let signer = try NoteSigner(name: origin, key: key)
        cachedSigner = signer
        return signer
    }

    func policy(for published: PublishedPolicy) throws -> Policy {
        if let p = policyCache[published.sha256] { return p }
        let p = try PolicyLoader.load(published.text, file: "policy in event \(published.seq)")
        policyCache[published.sha256] = p
        return p
    }
}
