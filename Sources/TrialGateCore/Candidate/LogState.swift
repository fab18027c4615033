/// The trial's identity as set by the first event.
public struct TrialInfo: Sendable, Equatable {
    public let trialID: String
    public let logOrigin: String
    /// Base64 of the raw 32-byte Ed25519 public key.
    public let publicKey: String
    public let keyID: String
}

/// A signing key of the trial and the event that brought it into force (1 for the trial's first key).
public struct SigningKeyRecord: Sendable, Equatable {
    public let seq: Int64
    /// Base64 of the raw 32-byte Ed25519 public key.
    public let publicKey: String
    public let keyID: String

    public init(seq: Int64, publicKey: String, keyID: String) {
        self.seq = seq
        self.publicKey = publicKey
        self.keyID = keyID
    }
}

/// What a key rotation signs, with the old key and with the new one: the new key, bound to the trial and
/// to the exact log position, so it cannot be replayed into another log or another place.
public func keyRotationStatement(trialID: String, logOrigin: String, previousKeyID: String, publicKey: String, keyID: String,
                                 logSize: Int64, logHead: String) -> JSONValue {
    .object([
        "format": .string("trialgate.key-rotation/1"),
        "trial_id": .string(trialID), "log_origin": .string(logOrigin),
        "previous_key_id": .string(previousKeyID), "public_key": .string(publicKey), "key_id": .string(keyID),
        "log": .object(["size": .number(Double(logSize)), "head": .string(logHead)]),
    ])
}

/// A policy as published in the log: the log, not a file on disk, says which rules were in force.
public struct PublishedPolicy: Sendable, Equatable {
    public let seq: Int64
    /// When it was published: it is in force from then until the next publication.
    public let publishedAt: UTCTimestamp
    public let id: String
    public let version: String
    public let sha256: String
    public let text: String

    public init(seq: Int64, publishedAt: UTCTimestamp, id: String, version: String, sha256: String, text: String) {
        (self.seq, self.publishedAt, self.id, self.version, self.sha256, self.text) = (seq, publishedAt, id, version, sha256, text)
    }

    /// The publication without the policy's text: what a view that names policies, and does not evaluate them, keeps.
    public var withoutText: PublishedPolicy {
        PublishedPolicy(seq: seq, publishedAt: publishedAt, id: id, version: version, sha256: sha256, text: "")
    }
}

/// The fold of the whole log: trial, policies and every candidate. Pure; `apply` is the only way in.
public struct LogState: Sendable {
    public private(set) var trial: TrialInfo?
    public private(set) var policies: [PublishedPolicy] = []
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
        switch event.type {
        case .trialInitialised:
            let p = event.payload
            trial = TrialInfo(trialID: p["trial_id"]?.stringValue ?? "", logOrigin: p["log_origin"]?.stringValue ?? "",
                              publicKey: p["public_key"]?.stringValue ?? "", keyID: p["key_id"]?.stringValue ?? "")
            keys = [SigningKeyRecord(seq: event.seq, publicKey: trial!.publicKey, keyID: trial!.keyID)]
        case .keyRotated:
            keys.append(SigningKeyRecord(seq: event.seq, publicKey: event.payload["public_key"]!.stringValue!,
                                         keyID: event.payload["key_id"]!.stringValue!))
        case .policyPublished:
            let p = event.payload
            policies.append(PublishedPolicy(seq: event.seq, publishedAt: event.timestamp, id: p["policy_id"]!.stringValue!, version: p["version"]!.stringValue!,
                                            sha256: p["sha256"]!.stringValue!, text: p["text"]!.stringValue!))
        case .candidateRegistered:
            let entry = RecordEntry(seq: event.seq, type: event.type, schemaVersion: event.schemaVersion, timestamp: event.timestamp,
                                    actor: event.actor, original: event.payload, current: event.payload, corrections: [])
            candidates[event.candidate!] = CandidateState(id: event.candidate!, registeredSeq: event.seq, records: [entry], lastSeq: event.seq)
        case .imagingRecorded, .ki67Recorded, .mitoticCountRecorded, .sstrRecorded, .modelScoreRecorded, .clinicalRecorded,
             .pathologyRecorded, .attestationRecorded:
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
            candidates[event.candidate!]!.withdrawal = (event.seq, event.payload["reason"]!.stringValue!, event.timestamp, event.actor)
        case .decisionIssued:
            let d = event.payload["decision"]!
            var results: [String: String] = [:]
            for c in d["criteria"]?.arrayValue ?? [] {
                if let id = c["id"]?.stringValue, let r = c["result"]?.stringValue { results[id] = r }
            }
            candidates[event.candidate!]!.decisions.append(DecisionSummary(
                seq: event.seq, outcome: d["outcome"]?.stringValue ?? "", timestamp: event.timestamp, actor: event.actor,
                policyID: d["policy"]?["id"]?.stringValue ?? "", policyVersion: d["policy"]?["version"]?.stringValue ?? "",
                results: results, decision: d, signature: event.payload["signature"]?.stringValue ?? ""))
            candidates[event.candidate!]!.changesSinceDecision = []
        case .decisionSigned, .queryOpened, .queryAnswered, .queryClosed:
            var c = candidates.removeValue(forKey: event.candidate!)!
            applyLifecycle(event, to: &c)
            candidates[c.id] = c
        }
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

    /// Checks that `event` may follow `state`, without changing anything.
    public static func check(_ event: Event, against state: LogState) throws {
        let today = event.timestamp.date
        // Only an error message needs it.
        func where_() -> String { "event \(event.seq) (\(event.type.rawValue))" }
        guard (1...Event.currentSchemaVersion).contains(event.schemaVersion) else {
            throw TrialGateError(.invalidEvent, "\(where_()): unsupported schema version \(event.schemaVersion)")
        }
        guard !event.actor.isEmpty else { throw TrialGateError(.invalidEvent, "\(where_()): no actor") }
        switch event.type {
        case .trialInitialised:
            guard state.trial == nil, event.seq == 1 || state.size == 0 else { throw TrialGateError(.invalidEvent, "\(where_()): the trial is already initialised") }
            var r = try ObjectReader(event.payload, context: "trial.initialised")
            try RecordSchema.validateIdentifier(try r.string("trial_id"), what: "trial id")
            let origin = try r.string("log_origin")
            // The origin is also the signed-note key name of every checkpoint: no spaces, no '+'.
            if origin.isEmpty || origin.unicodeScalars.contains(where: { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 }) {
                throw TrialGateError(.invalidField, "\(where_()): log_origin must be non-empty, without spaces or '+' (it names the checkpoint key), got \"\(origin)\"")
            }
            _ = try r.string("public_key")
            _ = try r.string("key_id")
            try r.finish()
            return
        case .keyRotated:
            guard event.candidate == nil, let current = state.signingKey else {
                throw TrialGateError(.invalidEvent, "\(where_()): a key rotation needs an initialised trial and no candidate")
            }
            var r = try ObjectReader(event.payload, context: "key.rotated")
            let previous = try r.string("previous_key_id")
            let publicKey = try r.string("public_key")
            let keyID = try r.string("key_id")
            _ = try r.string("signature"); _ = try r.string("new_key_signature")
            try r.finish()
            guard previous == current.keyID else {
                throw TrialGateError(.invalidEvent, "\(where_()): previous_key_id \(previous) is not the key in force (\(current.keyID))")
            }
            if state.keys.contains(where: { $0.keyID == keyID || $0.publicKey == publicKey }) {
                throw TrialGateError(.invalidEvent, "\(where_()): key \(keyID) was already used by this trial")
            }
            return
        case .userAdded, .userDisabled, .userEnabled, .userRemoved, .userTokenRotated, .userSignerRotated:
            try checkUserEvent(event, against: state)
            return
        case .policyPublished:
            var r = try ObjectReader(event.payload, context: "policy.published")
            _ = try r.string("policy_id"); _ = try r.string("version"); _ = try r.string("sha256"); _ = try r.string("text")
            try r.finish()
            return
        default:
            break
        }
        guard let candidateID = event.candidate else { throw TrialGateError(.invalidEvent, "\(where_()): no candidate") }
        if event.type == .candidateRegistered {
            try RecordSchema.validateIdentifier(candidateID, what: "candidate id")
            if state.candidates[candidateID] != nil {
                throw TrialGateError(.duplicateCandidate, "candidate \"\(candidateID)\" is already registered")
            }
            try RecordSchema.of(.candidateRegistered, version: event.schemaVersion)!.validate(event.payload, today: today)
            return
        }
        guard let candidate = state.candidates[candidateID] else {
            throw TrialGateError(.unknownCandidate, "no candidate \"\(candidateID)\" is registered")
        }
        // Queries still open when a candidate leaves screening can be answered and closed.
        if candidate.isWithdrawn, event.type != .queryAnswered, event.type != .queryClosed {
            throw TrialGateError(.candidateWithdrawn, "candidate \"\(candidateID)\" was withdrawn (event \(candidate.withdrawal!.seq)); nothing more can be recorded")
        }
        switch event.type {
        case .entryCorrected:
            try checkCorrection(event.payload, candidate: candidate, today: today, schemaVersion: event.schemaVersion)
        case .decisionIssued:
            var r = try ObjectReader(event.payload, context: "decision.issued")
            let decision = try r.value("decision")
            _ = try r.string("signature")
            try r.finish()
            guard decision["candidate"]?.stringValue == candidateID else {
                throw TrialGateError(.invalidEvent, "\(where_()): the decision names another candidate")
            }
        case .decisionSigned, .queryOpened, .queryAnswered, .queryClosed:
            guard event.schemaVersion >= 3 else {
                throw TrialGateError(.invalidEvent, "\(where_()): \(event.type.rawValue) does not exist in event schema \(event.schemaVersion)")
            }
            if event.type == .decisionSigned { try checkSignOff(event, candidate: candidate, state: state) } else {
                try checkQueryEvent(event, candidate: candidate)
            }
        default:
            guard let schema = RecordSchema.of(event.type, version: event.schemaVersion) else {
                throw TrialGateError(.invalidEvent, "\(where_()): \(event.type.rawValue) does not exist in event schema \(event.schemaVersion)")
            }
            try schema.validate(event.payload, today: today)
            if event.type == .attestationRecorded, event.schemaVersion >= 3 { try checkAttestationSigner(event, candidate: candidate, state: state) }
        }
    }

    private static func checkCorrection(_ payload: JSONValue, candidate: CandidateState, today: CivilDate, schemaVersion: Int) throws {
        var r = try ObjectReader(payload, context: "correction")
        let target = try r.integer("corrects")
        let field = try r.string("field")
        // Null old_value: the field was not given before (a correction may add an omitted optional field).
        let old = r.optionalValue("old_value") ?? .null
        let new = r.optionalValue("new_value") ?? .null
        let reason = try r.string("reason")
        try r.finish()
        if reason.trimmingCharacters(in: " \t\n") .isEmpty {
            throw TrialGateError(.missingField, "correction: a reason is required")
        }
        if schemaVersion >= 3, let why = SignedText.problem(reason, maxLength: 1000, multiline: false) {
            throw TrialGateError(.invalidField, "correction: reason must be \(why)")
        }
        guard let record = candidate.record(seq: Int64(target)) else {
            throw TrialGateError(.unknownEvent, "event \(target) is not a record of candidate \"\(candidate.id)\"")
        }
        if record.type == .attestationRecorded, record.schemaVersion >= 3 {
            throw TrialGateError(.notCorrectable, "event \(target) is an investigator's signed attestation; it is corrected by signing a new one (`trialgate attest`)")
        }
        guard let schema = RecordSchema.of(record.type, version: record.schemaVersion), schema.fields.contains(where: { $0.name == field }) else {
            throw TrialGateError(.notCorrectable, "\(record.type.rawValue) has no field \"\(field)\"")
        }
        guard case .object(let members) = record.current else { return }
        let current = members[field] ?? .null
        guard current == old else {
            throw TrialGateError(.invalidField, "correction: old_value \(CanonicalJSON.string(old)) is not the current value \(CanonicalJSON.string(current))")
        }
        guard new != current else { throw TrialGateError(.invalidField, "correction: the new value equals the current value") }
        // Read by the reader above, so it decodes.
        try schema.validate(EntryCorrection(seq: 0, payload: payload)!.applied(to: record.current), today: today, correcting: true)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> Substring {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return s
    }
}
