extension LogState {
    /// Checks that `event` may follow `state`, without changing anything.
    public static func check(_ event: Event, against state: LogState) throws {
        let today = event.timestamp.date
        guard (1...Event.currentSchemaVersion).contains(event.schemaVersion) else {
            throw TrialGateError(.invalidEvent, "\(where_(event)): unsupported schema version \(event.schemaVersion)")
        }
        guard !event.actor.isEmpty else { throw TrialGateError(.invalidEvent, "\(where_(event)): no actor") }
        switch event.type {
        case .trialInitialised:
            try checkTrialInitialised(event, against: state)
        case .keyRotated:
            try checkKeyRotation(event, against: state)
        case .userAdded, .userDisabled, .userEnabled, .userRemoved, .userTokenRotated, .userSignerRotated:
            try checkUserEvent(event, against: state)
        case .policyPublished:
            _ = try PublishedPolicy(payloadOf: event)
        case .modelRegistered:
            try checkModelRegistration(event, against: state)
        case .recordsImported:
            try checkImport(event, against: state)
        default:
            try checkCandidateEvent(event, against: state, today: today)
        }
    }

    /// Where an event is, as an error message names it. Only an error message needs it.
    private static func where_(_ event: Event) -> String { "event \(event.seq) (\(event.type.rawValue))" }

    private static func checkTrialInitialised(_ event: Event, against state: LogState) throws {
        guard state.trial == nil, event.seq == 1 || state.size == 0 else { throw TrialGateError(.invalidEvent, "\(where_(event)): the trial is already initialised") }
        let trial = try TrialInfo(payloadOf: event)
        try RecordSchema.validateIdentifier(trial.trialID, what: "trial id")
        let origin = trial.logOrigin
        // The origin is also the signed-note key name of every checkpoint: no spaces, no '+'.
        if origin.isEmpty || origin.unicodeScalars.contains(where: { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 }) {
            throw TrialGateError(.invalidField, "\(where_(event)): log_origin must be non-empty, without spaces or '+' (it names the checkpoint key), got \"\(origin)\"")
        }
    }

    private static func checkKeyRotation(_ event: Event, against state: LogState) throws {
        guard event.candidate == nil, let current = state.signingKey else {
            throw TrialGateError(.invalidEvent, "\(where_(event)): a key rotation needs an initialised trial and no candidate")
        }
        let rotation = try KeyRotation(payloadOf: event)
        let (previous, publicKey, keyID) = (rotation.previousKeyID, rotation.publicKey, rotation.keyID)
        guard previous == current.keyID else {
            throw TrialGateError(.invalidEvent, "\(where_(event)): previous_key_id \(previous) is not the key in force (\(current.keyID))")
        }
        if state.keys.contains(where: { $0.keyID == keyID || $0.publicKey == publicKey }) {
            throw TrialGateError(.invalidEvent, "\(where_(event)): key \(keyID) was already used by this trial")
        }
    }

    /// Checks an event about a candidate: its registration, or an event about a registered candidate still in screening.
    private static func checkCandidateEvent(_ event: Event, against state: LogState, today: CivilDate) throws {
        guard let candidateID = event.candidate else { throw TrialGateError(.invalidEvent, "\(where_(event)): no candidate") }
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
            try checkCorrection(event.payload, candidate: candidate, today: today, schemaVersion: event.schemaVersion, state: state)
        case .decisionIssued:
            _ = try DecisionSummary(payloadOf: event)
            guard event.payload["decision"]?["candidate"]?.stringValue == candidateID else {
                throw TrialGateError(.invalidEvent, "\(where_(event)): the decision names another candidate")
            }
        case .decisionSigned, .queryOpened, .queryAnswered, .queryClosed:
            guard event.schemaVersion >= 3 else {
                throw TrialGateError(.invalidEvent, "\(where_(event)): \(event.type.rawValue) does not exist in event schema \(event.schemaVersion)")
            }
            if event.type == .decisionSigned { try checkSignOff(event, candidate: candidate, state: state) } else {
                try checkQueryEvent(event, candidate: candidate)
            }
        default:
            guard let schema = RecordSchema.of(event.type, version: event.schemaVersion) else {
                throw TrialGateError(.invalidEvent, "\(where_(event)): \(event.type.rawValue) does not exist in event schema \(event.schemaVersion)")
            }
            try schema.validate(event.payload, today: today)
            if event.type == .attestationRecorded, event.schemaVersion >= 3 { try checkAttestationSigner(event, candidate: candidate, state: state) }
            if event.type == .candidateWithdrawn, event.schemaVersion >= 3 { try WithdrawalCategory.check(event.payload) }
            if event.type == .modelScoreRecorded { try checkSuppliedScore(event.payload, candidate: candidate, against: state) }
            if event.type == .radiomicsRecorded { try checkFeaturesAgainstSuppliedScores(event.payload, candidate: candidate, against: state) }
        }
    }

    private static func checkCorrection(_ payload: JSONValue, candidate: CandidateState, today: CivilDate, schemaVersion: Int, state: LogState) throws {
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
        if record.type == .radiomicsRecorded {
            throw TrialGateError(.notCorrectable, "event \(target) is a radiomics record, evidence as read: record a new reading or a new extraction (`record radiomics`) instead")
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
        let corrected = EntryCorrection(seq: 0, payload: payload)!.applied(to: record.current)
        try schema.validate(corrected, today: today, correcting: true)
        // A corrected score is held to the registered model and the features as a new one is.
        if record.type == .modelScoreRecorded { try checkSuppliedScore(corrected, candidate: candidate, against: state) }
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
