extension LogState {
    /// Checks a `decision.signed` event: the statement names this trial, this candidate and its newest decision,
    /// which is current; the meaning fits the decision; the signer is the acting investigator, in force, at the
    /// candidate's site, with the printed name and key the account registers; the time of signing is the log's
    /// within `SignOffStatement.clockSkewMilliseconds`. The signature and the decision's SHA-256 need
    /// cryptography and are checked by the writer and the auditor.
    static func checkSignOff(_ event: Event, candidate: CandidateState, state: LogState) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidEvent, "event \(event.seq) (decision.signed): \(why)") }
        var r = try ObjectReader(event.payload, context: "decision.signed")
        let statement = try r.value("statement")
        guard SignedText.isCanonicalBase64(try r.string("signature"), bytes: 64) else {
            throw bad("signature must be the canonical base64 of a 64-byte Ed25519 signature")
        }
        try r.finish()
        var s = try ObjectReader(statement, context: "decision.signed statement")
        guard try s.string("format") == SignOffStatement.format else { throw bad("the statement's format is not \(SignOffStatement.format)") }
        let trialID = try s.string("trial_id"), origin = try s.string("log_origin")
        // A fold of one candidate's events alone (a view) has no trial, accounts or policies: those rules were
        // checked when the event was written, and `verify` checks them on the whole log.
        let whole = state.trial != nil
        if let trial = state.trial, trialID != trial.trialID || origin != trial.logOrigin {
            throw bad("the statement names another trial or log")
        }
        guard try s.string("candidate") == candidate.id else { throw bad("the statement names another candidate") }
        let (decisionSeq, latest) = try checkSignedDecision(&s, candidate: candidate, state: state, bad)
        let meaning = try checkSignOffMeaning(&s, decisionSeq: decisionSeq, latest: latest, bad)
        var g = try ObjectReader(try s.value("signer"), context: "decision.signed statement signer")
        let user = try g.string("user"), printed = try g.string("printed_name"), keyID = try g.string("key_id")
        try g.finish()
        if whole { try checkSigner(user: user, printedName: printed, keyID: keyID, site: candidate.site, event: event, state: state, bad) }
        let signedAt = try s.string("signed_at")
        guard let at = UTCTimestamp(signedAt) else { throw bad("signed_at must be a UTC time, got \"\(signedAt)\"") }
        if abs(at.millisecondsSinceEpoch - event.timestamp.millisecondsSinceEpoch) > SignOffStatement.clockSkewMilliseconds {
            throw bad("signed_at \(signedAt) is more than 5 minutes from the log's time \(event.timestamp); sign again")
        }
        guard try s.string("meaning_text") == meaning.sentence(printedName: printed, user: user, candidate: candidate.id,
                                                                decisionSeq: decisionSeq, proposed: latest.outcome) else {
            throw bad("meaning_text is not the words of \(meaning.rawValue)")
        }
        try s.finish()
    }

    /// The decision a sign-off statement names: the candidate's newest, current and not signed off yet, with the
    /// outcome and policy the statement repeats. Returns its sequence number and summary.
    private static func checkSignedDecision(_ s: inout ObjectReader, candidate: CandidateState, state: LogState,
                                            _ bad: (String) -> TrialGateError) throws -> (Int64, DecisionSummary) {
        var d = try ObjectReader(try s.value("decision"), context: "decision.signed statement decision")
        let decisionSeq = Int64(try d.integer("seq"))
        let sha = try d.string("sha256"), outcome = try d.string("outcome"), policy = try d.string("policy")
        try d.finish()
        guard sha.utf8.count == 64, sha.utf8.allSatisfy(isLowerHex) else { throw bad("decision.sha256 must be 64 lowercase hex digits") }
        guard let latest = candidate.decisions.last else { throw bad("candidate \(candidate.id) has no decision to sign") }
        guard decisionSeq == latest.seq else {
            throw bad(candidate.decisions.contains { $0.seq == decisionSeq }
                      ? "decision \(decisionSeq) was superseded by decision \(latest.seq); sign the newest decision"
                      : "event \(decisionSeq) is not a decision of candidate \(candidate.id)")
        }
        guard outcome == latest.outcome, policy == latest.policyName else { throw bad("the statement's outcome or policy is not decision \(decisionSeq)'s") }
        let stale = candidate.staleCauses(policies: state.policies)
        if let first = stale.first {
            throw bad("decision \(decisionSeq) is stale (event \(first.seq): \(first.detail)); decide again, then sign the new decision")
        }
        if let earlier = candidate.latestSignOff {
            throw bad("decision \(decisionSeq) was already signed off in event \(earlier.seq)")
        }
        return (decisionSeq, latest)
    }

    /// The meaning a sign-off statement gives: one that fits the decision's proposal, with a reason for an override,
    /// and no override into eligibility while a criterion still needs an attestation.
    private static func checkSignOffMeaning(_ s: inout ObjectReader, decisionSeq: Int64, latest: DecisionSummary,
                                            _ bad: (String) -> TrialGateError) throws -> SignOffMeaning {
        let meaningText = try s.string("meaning")
        guard let meaning = SignOffMeaning(rawValue: meaningText) else {
            throw bad("meaning must be one of \(SignOffMeaning.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(meaningText)\"")
        }
        guard let proposed = Outcome(rawValue: latest.outcome) else { throw bad("decision \(decisionSeq) has no outcome") }
        guard SignOffMeaning.of(confirming: proposed, to: meaning.outcome) == meaning else {
            throw bad(meaning.isOverride
                      ? "decision \(decisionSeq) already proposes \(proposed.rawValue): confirm it instead of overriding"
                      : "decision \(decisionSeq) proposes \(proposed.rawValue): \(meaning.rawValue) would be an override, which needs a reason")
        }
        let reason = try s.optionalString("reason")
        if meaning.isOverride, reason == nil { throw bad("an override needs a reason") }
        if let reason, let why = SignedText.problem(reason, maxLength: 1000, multiline: false) { throw bad("reason must be \(why)") }
        // What only an investigator's signed attestation settles is attested first, never overridden into eligibility.
        if meaning == .overriddenEligible {
            let unattested = latest.results.filter { $0.value == "needs_attestation" }.map(\.key).sorted()
            if !unattested.isEmpty {
                throw bad("decision \(decisionSeq) still needs the attestation of \(unattested.joined(separator: ", ")): attest first (`trialgate attest`), decide again, then sign")
            }
        }
        return meaning
    }

    /// The signer of a sign-off or attestation is the acting investigator, in force at the event's time, working at
    /// `site`, with the printed name and key their account registers.
    static func checkSigner(user: String, printedName: String, keyID: String, site: String, event: Event, state: LogState,
                            _ bad: (String) -> TrialGateError) throws {
        guard user == event.actor else { throw bad("the statement is signed by \(user) but the event is \(event.actor)'s") }
        guard let account = state.users[user], account.role == .investigator else { throw bad("\(user) is not an investigator of this trial") }
        guard account.isInForce(at: event.timestamp) else { throw bad("\(user)'s account is not in force") }
        guard account.sites.contains(site) else { throw bad("\(user) does not work at site \(site)") }
        guard printedName == account.printedName, keyID == account.keyID else {
            throw bad("the printed name or key id is not the one \(user)'s account registers")
        }
    }

    /// Checks a `query.*` event against the candidate's queries.
    static func checkQueryEvent(_ event: Event, candidate: CandidateState) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidField, "\(event.type.rawValue): \(why)") }
        var r = try ObjectReader(event.payload, context: event.type.rawValue)
        func text(_ name: String) throws -> String {
            let t = try r.string(name)
            if let why = SignedText.problem(t, maxLength: 2000, multiline: true) { throw bad("\"\(name)\" must be \(why)") }
            return t
        }
        switch event.type {
        case .queryOpened:
            let aboutText = try r.string("about")
            guard let about = ReviewQuery.About(rawValue: aboutText) else {
                throw bad("\"about\" must be one of \(ReviewQuery.About.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(aboutText)\"")
            }
            let criterion = try r.optionalString("criterion")
            let decision = try r.optionalValue("decision").map { v -> Int64 in
                guard let n = v.intValue else { throw bad("\"decision\" must be a decision's sequence number") }
                return Int64(n)
            }
            _ = try text("text")
            if about == .criterion, criterion == nil { throw bad("a query about a criterion names the criterion") }
            if let decision, !candidate.decisions.contains(where: { $0.seq == decision }) {
                throw bad("event \(decision) is not a decision of candidate \(candidate.id)")
            }
            if about == .staleDecision, decision == nil { throw bad("a query about a stale decision names the decision") }
        case .queryAnswered, .queryClosed:
            let seq = Int64(try r.integer("query"))
            guard let query = candidate.query(seq: seq) else { throw bad("event \(seq) is not a query on candidate \(candidate.id)") }
            if query.status == .closed { throw bad("query \(seq) was closed in event \(query.closed!.seq)") }
            if event.type == .queryAnswered {
                _ = try text("note")
                for v in (try r.optionalValue("records")?.arrayValue) ?? [] {
                    guard let n = v.intValue, candidate.record(seq: Int64(n)) != nil else {
                        throw bad("\"records\" must list this candidate's records, got \(CanonicalJSON.string(v))")
                    }
                }
            } else {
                _ = try text("resolution")
            }
        default:
            throw TrialGateError(.invalidEvent, "event \(event.seq): not a query event")
        }
        try r.finish()
    }

    /// Folds a checked lifecycle event (sign-off or query) into its candidate.
    mutating func applyLifecycle(_ event: Event, to c: inout CandidateState) throws {
        switch event.type {
        case .decisionSigned:
            c.signOffs.append(try SignOff(payloadOf: event))
        case .queryOpened:
            c.queries.append(try ReviewQuery(payloadOf: event))
        case .queryAnswered:
            let target = try ReviewQuery.target(of: event)
            if let i = c.queries.firstIndex(where: { $0.seq == target }) { c.queries[i].answers.append(try .init(payloadOf: event)) }
        case .queryClosed:
            let closing = try QueryClosing(payloadOf: event)
            if let i = c.queries.firstIndex(where: { $0.seq == closing.query }) {
                c.queries[i].closed = (event.seq, event.timestamp, event.actor, closing.resolution)
            }
        default:
            return
        }
    }

    /// A signed attestation (schema 3): signed within 5 minutes of the log's time by the acting investigator, in
    /// force at the candidate's site, with the printed name and key their account registers. The signature is
    /// checked by the writer and the auditor.
    static func checkAttestationSigner(_ event: Event, candidate: CandidateState, state: LogState) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidEvent, "event \(event.seq) (attestation.recorded): \(why)") }
        let p = event.payload
        guard let signature = p["signature"]?.stringValue, SignedText.isCanonicalBase64(signature, bytes: 64) else {
            throw bad("signature must be the canonical base64 of a 64-byte Ed25519 signature")
        }
        // A signed statement is recorded once: replayed later it would bring back what the investigator has since
        // attested otherwise.
        if let earlier = candidate.records.first(where: { $0.type == .attestationRecorded && $0.original["signature"]?.stringValue == signature }) {
            throw bad("this signed attestation was already recorded as event \(earlier.seq)")
        }
        if let text = p["statement"]?.stringValue, let why = SignedText.problem(text, maxLength: 1000, multiline: true) {
            throw bad("statement must be \(why)")
        }
        guard let signedAt = p["signed_at"]?.stringValue, let at = UTCTimestamp(signedAt) else {
            throw bad("signed_at must be a UTC time like 2026-11-30T12:00:00.000Z")
        }
        if abs(at.millisecondsSinceEpoch - event.timestamp.millisecondsSinceEpoch) > SignOffStatement.clockSkewMilliseconds {
            throw bad("signed_at \(signedAt) is more than 5 minutes from the log's time \(event.timestamp); sign again")
        }
        guard state.trial != nil else { return }
        try checkSigner(user: p["signer"]?.stringValue ?? "", printedName: p["printed_name"]?.stringValue ?? "",
                        keyID: p["key_id"]?.stringValue ?? "", site: candidate.site, event: event, state: state, bad)
    }
}
