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
        let view: JSONValue
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

    /// Carries out `command` for an authenticated principal, after checking their role and sites.
    /// The principal's name is the actor of every event the command appends.
    public func execute(_ command: Command, principal: Principal) throws -> JSONValue {
        try authorised(command, principal) { try execute(command, actor: principal.name) }
    }

    /// Carries out `command` as `execute(_:principal:)` does and answers its result in canonical JSON (RFC 8785),
    /// the bytes a reply carries. A `show` of a candidate's current view answers the bytes kept with the view.
    public func executeEncoded(_ command: Command, principal: Principal) throws -> [UInt8] {
        // A coordinator's `show` needs the candidate's site for the access check: a view built first serves both,
        // instead of reading the registration for the check and then every event for the view. The view is only
        // answered once the check has passed; if it cannot be built, the check and `show` report why, as always.
        var prepare: (() -> Void)?
        if case .show(let candidate, nil, nil) = command, principal.role.isSiteScoped {
            prepare = { _ = try? self.currentShown(candidate: candidate) }
        }
        return try authorised(command, principal, prepare: prepare) {
            guard case .show(let candidate, nil, nil) = command else { return CanonicalJSON.encode(try execute(command, actor: principal.name)) }
            do { return try currentShown(candidate: candidate).encoded } catch { throw TrialGateError(error) }
        }
    }

    /// Runs `body` once `principal` may carry out `command`.
    private func authorised<T>(_ command: Command, _ principal: Principal, prepare: (() -> Void)? = nil,
                               _ body: () throws -> T) throws -> T {
        viewChecks = [:]
        defer { viewChecks = nil }
        prepare?()
        do {
            try Access.check(principal, command, siteOfCandidate: siteOf(candidate:), eventAt: { try self.requireStore().event(seq: $0) })
        } catch {
            throw TrialGateError(error)
        }
        let user: String?
        switch command {
        case .signOff(_, _, let u, _), .attest(_, _, let u, _): user = u
        default: return try body()
        }
        if principal.session?.isLocked == true {
            throw TrialGateError(.signingLocked, "this session gave wrong signature components \(SigningSession.failureLimit) times and may not sign again; authenticate anew")
        }
        let now = clock.now().millisecondsSinceEpoch
        let recent = (signingFailures[principal.name] ?? []).filter { now - $0.millisecondsSinceEpoch < Self.accountFailureWindow }
        signingFailures[principal.name] = recent.isEmpty ? nil : recent
        if recent.count >= Self.accountFailureLimit {
            let until = UTCTimestamp(millisecondsSinceEpoch: recent[0].millisecondsSinceEpoch + Self.accountFailureWindow)
            throw TrialGateError(.signingLocked, "\(principal.name) gave wrong signature components \(recent.count) times in 15 minutes, from any session; signing is refused to this account until \(until)")
        }
        // 21 CFR 11.200(a)(1): the first signing of a session uses every component, later ones the signing code.
        let continuing = principal.session?.hasSigned ?? false
        if user == nil, !continuing { throw Self.firstSigningNeedsBoth }
        signingSessionContinues = continuing
        defer { signingSessionContinues = false }
        do {
            let result = try body()
            principal.session?.markSigned()
            return result
        } catch {
            let e = TrialGateError(error)
            if e.code == .signingFailed || e.code == .badSignature {
                principal.session?.markFailed()
                signingFailures[principal.name, default: []].append(clock.now())
            }
            throw e
        }
    }

    /// An investigator's key and signing-code digest as an account event carries them, with the key id derived here
    /// so that it always names the key (`verify` checks it too).
    static func signerFields(publicKey: String, signingSHA256: String) -> [String: JSONValue] {
        var fields: [String: JSONValue] = ["public_key": .string(publicKey), "signing_sha256": .string(signingSHA256)]
        if let raw = Data(base64Encoded: publicKey), raw.count == 32 { fields["key_id"] = .string(TrialKey.keyID(publicKey: Array(raw))) }
        return fields
    }

    static let firstSigningNeedsBoth = TrialGateError(
        .signingComponents, "the first signing of a session needs both signature components: user (your account name) and signing_code (21 CFR 11.200(a)(1))")

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

    /// Carries out `command` on behalf of `actor`, with no role check: for the operating-system user of the CLI.
    /// - Throws: `TrialGateError`; a command that throws has appended nothing.
    public func execute(_ command: Command, actor: String) throws -> JSONValue {
        do {
            switch command {
            case .initialise(let trialID, let origin): return try initialise(trialID: trialID, origin: origin, actor: actor)
            case .policyPublish(let text, let file): return try publishPolicy(text: text, file: file, actor: actor)
            case .policyCheck(let text, let file): return try checkPolicy(text: text, file: file)
            case .policyTest(let p, let pf, let c, let cf): return try testPolicy(policyText: p, policyFile: pf, casesText: c, casesFile: cf)
            case .policyImpact(let text, let file): return try policyImpact(text: text, file: file)
            case .register(let candidate, let fields): return try register(candidate: candidate, fields: fields, actor: actor)
            case .record(let kind, let candidate, let fields): return try record(kind: kind, candidate: candidate, fields: fields, actor: actor)
            case .correct(let seq, let field, let value, let reason): return try correct(seq: seq, field: field, value: value, reason: reason, actor: actor)
            case .withdraw(let candidate, let reason): return try withdraw(candidate: candidate, reason: reason, actor: actor)
            case .decide(let candidate): return try decide(candidate: candidate, actor: actor)
            case .show(let candidate, let seq, let time): return try show(candidate: candidate, asOfSeq: seq, asOfTime: time)
            case .decisions(let candidate, let outcome, let site, let after, let limit, let standing):
                return try listDecisions(candidate: candidate, outcome: outcome, site: site, after: after, limit: limit, standing: standing)
            case .signOffPrepare(let decision, let outcome, let reason, let user):
                return try prepareSignOff(decision: decision, outcome: outcome, reason: reason, user: user ?? actor)
            case .signOff(let statement, let signature, let user, let code):
                return try signOff(statement: statement, signature: signature, user: user, signingCode: code)
            case .attestPrepare(let candidate, let fields, let user): return try prepareAttestation(candidate: candidate, fields: fields, user: user ?? actor)
            case .attest(let statement, let signature, let user, let code):
                return try attest(statement: statement, signature: signature, user: user, signingCode: code)
            case .queries(let candidate, let site, let status): return try listQueries(candidate: candidate, site: site, status: status)
            case .queryOpen(let candidate, let criterion, let text): return try openQuery(candidate: candidate, criterion: criterion, text: text, actor: actor)
            case .queryAnswer(let query, let note, let records): return try answerQuery(query, note: note, records: records, actor: actor)
            case .queryClose(let query, let resolution): return try closeQuery(query, resolution: resolution, actor: actor)
            case .verify(let note, let vkey):
                guard let note else { return try verify(vkey: vkey) }
                return try verify(againstCheckpoint: note, vkey: vkey)
            case .replay: return try audit().replayResult
            case .export(let from, let through, let limit): return try export(from: from, through: through, limit: limit)
            case .report(let seq, let time, let site, let from, let to, let format):
                return try report(asOfSeq: seq, asOfTime: time, filter: .init(site: site, from: from, to: to), format: format)
            case .reportSnapshot: return try saveReportSnapshot()
            case .exportFHIR(let site):
                return ["resources": .array(ScreeningReport.fhir(try fold(asOfSeq: nil, asOfTime: nil), filter: .init(site: site)))]
            case .auditTrail(let candidate, let from, let limit): return try auditTrail(candidate: candidate, from: from, limit: limit)
            case .head: return try headResult()
            case .publicKey: return try publicKey()
            case .checkpoint(let size): return try checkpoint(size: size)
            case .proofInclusion(let seq, let size): return try inclusionProof(seq: seq, size: size)
            case .proofConsistency(let from, let to): return try consistencyProof(from: from, to: to)
            case .userAdd(let name, let role, let sites, let digest, let expiry, let signer):
                var payload: [String: JSONValue] = ["name": .string(name), "role": .string(role), "sites": .array(sites.map { .string($0) }),
                                                    "token_sha256": .string(digest)]
                if let expiry { payload["expires_at"] = .string(expiry.description) }
                if let signer {
                    payload["printed_name"] = .string(signer.printedName)
                    payload.merge(Self.signerFields(publicKey: signer.publicKey, signingSHA256: signer.signingSHA256)) { _, b in b }
                }
                return try changeAccount(.userAdded, payload: .object(payload), actor: actor)
            case .userDisable(let name, let reason): return try changeAccount(.userDisabled, payload: ["name": .string(name), "reason": .string(reason)], actor: actor)
            case .userEnable(let name, let reason): return try changeAccount(.userEnabled, payload: ["name": .string(name), "reason": .string(reason)], actor: actor)
            case .userRemove(let name, let reason): return try changeAccount(.userRemoved, payload: ["name": .string(name), "reason": .string(reason)], actor: actor)
            case .userRotateToken(let name, let digest):
                return try changeAccount(.userTokenRotated, payload: ["name": .string(name), "token_sha256": .string(digest)], actor: actor)
            case .userRotateSigner(let name, let publicKey, let digest):
                return try changeAccount(.userSignerRotated, payload: .object(["name": .string(name)]
                    .merging(Self.signerFields(publicKey: publicKey, signingSHA256: digest)) { _, b in b }), actor: actor)
            case .users: return try listUsers()
            case .subscribe:
                throw TrialGateError(.badRequest, "subscribe streams the log over a served connection (trialgate serve); here, page it with export")
            case .keyRotate(let newKey): return try rotateKey(to: newKey, actor: actor)
            case .exportBundle(let directory): return try exportBundle(directory: directory)
            }
        } catch {
            throw TrialGateError(error)
        }
    }

    /// Carries out several commands with one durable commit (group commit).
    ///
    /// Each command runs under its own savepoint, so a failing command appends nothing and the others
    /// still land; every result is final only once this returns, after the shared commit.
    /// - Returns: one result per command, in order.
    /// - Throws: only when the shared commit itself fails; then nothing of the batch was written.
    public func executeBatch(_ items: [(command: Command, actor: String)]) throws -> [Result<JSONValue, TrialGateError>] {
        try runBatch(items.map { item in { try self.execute(item.command, actor: item.actor) } })
    }

    /// The same for authenticated principals: each command is checked against its principal's role and sites.
    public func executeBatch(_ items: [(command: Command, principal: Principal)]) throws -> [Result<JSONValue, TrialGateError>] {
        try runBatch(items.map { item in { try self.execute(item.command, principal: item.principal) } })
    }

    private func runBatch(_ items: [() throws -> JSONValue]) throws -> [Result<JSONValue, TrialGateError>] {
        do {
            // One transaction, one checkpoint at its end (decisions inside it already issued their own).
            return try inOneTransaction {
                guard let txn = batchTransaction else { throw TrialGateError(.internal, "no transaction for the batch") }
                return items.map { item in
                    do {
                        return .success(try txn.savepoint { try item() })
                    } catch {
                        return .failure(TrialGateError(error))
                    }
                }
            }
        } catch {
            throw TrialGateError(error)
        }
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
