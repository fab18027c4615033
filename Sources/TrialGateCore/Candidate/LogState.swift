/// The fold of the whole log: trial, policies and every candidate. Pure; `apply` is the only way in.
public struct LogState: Sendable {
    public private(set) var trial: TrialInfo?
    public private(set) var policies: [PublishedPolicy] = []
    /// Every model version registered, in log order (`model.registered`).
    public private(set) var models: [RegisteredModel] = []
    /// Every signing key in the order it came into force; the last one signs decisions and checkpoints now.
    public private(set) var keys: [SigningKeyRecord] = []
    public private(set) var candidates: [String: CandidateState] = [:]
    /// Accounts by name, as the `user.*` events left them.
    public internal(set) var users: [String: UserAccount] = [:]
    /// Every token digest an account of this log has held: a token is never given to a second account, nor back.
    public internal(set) var tokenDigests: Set<String> = []
    /// Every public key an investigator's account has held: a key is never registered to a second account, nor back.
    public internal(set) var signerKeys: Set<String> = []
    /// Number of events applied.
    public private(set) var size: Int64 = 0
    /// Hash of the newest event applied.
    public private(set) var headHash: String = Event.genesisHash
    /// The highest event schema version applied in order: a log's versions never go down, so an older build
    /// cannot write its rules' events into a log a newer build has written to without `verify` saying so.
    public private(set) var schemaVersion = 1

    public init() {}

    /// The key that signs from here on.
    public var signingKey: SigningKeyRecord? { keys.last }

    /// The newest policy published so far.
    public var policyInForce: PublishedPolicy? { policies.last }

    /// A state folded from a subset of the log (the trial event, policies and one candidate's events),
    /// as a writer needs it to check a new event without reading the whole log.
    public init(partial events: [Event], head: (size: Int64, hash: String)) throws {
        for e in events { try apply(e, strict: false) }
        size = head.size
        headHash = head.hash
    }

    /// Puts a candidate folded earlier into this state: a writer's cache of candidates it already folded.
    public mutating func insert(_ candidate: CandidateState) { candidates[candidate.id] = candidate }

    /// Sets the log position this (partial) state stands at.
    public mutating func setHead(size: Int64, hash: String) {
        self.size = size
        headHash = hash
    }

    /// Applies the next event, enforcing the rules every writer must have followed.
    /// - Parameter strict: require `event` to be exactly the next in the log (false for partial folds).
    /// - Throws: `TrialGateError` naming the event and the broken rule; the state is unchanged then.
    public mutating func apply(_ event: Event, strict: Bool = true) throws {
        if strict {
            guard event.seq == size + 1 else {
                throw TrialGateError(.invalidEvent, "event \(event.seq) out of order: expected \(size + 1)")
            }
            if event.seq != 1, trial == nil {
                throw TrialGateError(.invalidEvent, "event \(event.seq): the log must begin with trial.initialised")
            }
            if event.schemaVersion < schemaVersion {
                throw TrialGateError(.invalidEvent, "event \(event.seq): schema version \(event.schemaVersion) after an event of version \(schemaVersion) (written by an older build?)")
            }
        }
        try Self.check(event, against: self)
        try foldChecked(event)
        if let c = event.candidate {
            candidates[c]?.lastSeq = event.seq
            if event.type != .candidateRegistered, candidates[c]?.decisions.isEmpty == false, let cause = StaleCause.of(event) {
                candidates[c]!.changesSinceDecision.append(cause)
            }
        }
        if strict { schemaVersion = max(schemaVersion, event.schemaVersion) }
        size = event.seq
        headHash = event.hash
    }

    /// Folds an event that `check` accepted into the trial, the keys, the policies, the accounts or its candidate,
    /// reading its payload through its kind's decoder (`EventPayloads.swift`).
    private mutating func foldChecked(_ event: Event) throws {
        switch event.type {
        case .trialInitialised:
            trial = try TrialInfo(payloadOf: event)
            keys = [try SigningKeyRecord(payloadOf: event)]
        case .keyRotated:
            keys.append(try SigningKeyRecord(payloadOf: event))
        case .policyPublished:
            policies.append(try PublishedPolicy(payloadOf: event))
        case .candidateRegistered:
            let entry = RecordEntry(seq: event.seq, type: event.type, schemaVersion: event.schemaVersion, timestamp: event.timestamp,
                                    actor: event.actor, original: event.payload, current: event.payload, corrections: [])
            candidates[event.candidate!] = CandidateState(id: event.candidate!, registeredSeq: event.seq, records: [entry], lastSeq: event.seq)
        case .modelRegistered:
            models.append(try RegisteredModel(payloadOf: event))
        case .recordsImported:
            break  // a receipt of the rows before it: nothing of the trial or of a candidate changes
        case .imagingRecorded, .ki67Recorded, .mitoticCountRecorded, .sstrRecorded, .modelScoreRecorded, .clinicalRecorded,
             .pathologyRecorded, .attestationRecorded, .radiomicsRecorded:
            let entry = RecordEntry(seq: event.seq, type: event.type, schemaVersion: event.schemaVersion, timestamp: event.timestamp,
                                    actor: event.actor, original: event.payload, current: event.payload, corrections: [])
            candidates[event.candidate!]!.records.append(entry)
        case .entryCorrected:
            let c = EntryCorrection(event)!  // checked above
            let index = candidates[event.candidate!]!.records.firstIndex { $0.seq == c.corrects }!
            var record = candidates[event.candidate!]!.records[index]
            guard case .object = record.current else { break }
            record.current = c.applied(to: record.current)
            record.corrections.append(CorrectionEntry(seq: event.seq, timestamp: event.timestamp, actor: event.actor, field: c.field,
                                                      oldValue: c.oldValue, newValue: c.newValue, reason: c.reason))
            candidates[event.candidate!]!.records[index] = record
        case .userAdded, .userDisabled, .userEnabled, .userRemoved, .userTokenRotated, .userSignerRotated:
            applyUserEvent(event)
        case .candidateWithdrawn:
            candidates[event.candidate!]!.withdrawal = try Withdrawal(payloadOf: event)
        case .decisionIssued:
            candidates[event.candidate!]!.decisions.append(try DecisionSummary(payloadOf: event))
            candidates[event.candidate!]!.changesSinceDecision = []
        case .decisionSigned, .queryOpened, .queryAnswered, .queryClosed:
            // Taken out while it changes, so its arrays are not copied; put back whether or not the event folds.
            var c = candidates.removeValue(forKey: event.candidate!)!
            defer { candidates[c.id] = c }
            try applyLifecycle(event, to: &c)
        }
    }
}
