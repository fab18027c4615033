import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// The decision lifecycle: investigators' sign-offs and review queries.
extension Dispatcher {
    /// The trial, accounts, policies and one candidate as the log has them now.
    func readState(candidate: String) throws -> LogState {
        let store = try requireStore()
        return try store.reading {
            let head = try store.head()
            var state = try Self.baseState(store, head: head)
            state.insert(try foldCandidate(candidate))
            state.setHead(size: head.size, hash: head.hash)
            return state
        }
    }

    /// A well-formed signature to check a statement's rules with before it is signed (its value is checked later).
    static let placeholderSignature = String(repeating: "A", count: 86) + "=="

    /// Checks the event a signer is about to sign for, as the log's rules will when it is appended, before anyone
    /// signs: with `code`, the refusal is reported under it; without, under the rule's own code.
    private static func checkBeforeSigning(_ type: EventType, payload: JSONValue, signer: String, candidate: String, state: LogState,
                                           now: UTCTimestamp, code: ErrorCode? = nil) throws {
        let event = Event(seq: state.size + 1, timestamp: now, actor: signer, type: type, candidate: candidate,
                          schemaVersion: Event.currentSchemaVersion, payload: payload, prevHash: state.headHash, hash: "")
        do { try LogState.check(event, against: state) } catch let e as TrialGateError {
            throw TrialGateError(code ?? e.code, e.message)
        }
    }

    /// A sign-off of `statement`, checked before it is signed.
    private static func checkSignable(_ statement: JSONValue, signer: String, state: LogState, now: UTCTimestamp, candidate: String) throws {
        try checkBeforeSigning(.decisionSigned, payload: ["statement": statement, "signature": .string(placeholderSignature)], signer: signer,
                               candidate: candidate, state: state, now: now, code: .notSignable)
    }

    /// The investigator `user`'s account, in force now.
    private static func investigator(_ user: String, _ state: LogState, now: UTCTimestamp) throws -> UserAccount {
        guard let account = state.users[user], account.role == .investigator, account.publicKey != nil else {
            throw TrialGateError(.forbidden, "\(user) is not an investigator of this trial: only investigators sign off decisions")
        }
        guard account.isInForce(at: now) else { throw TrialGateError(.forbidden, "\(user)'s account is not in force") }
        return account
    }

    /// - Parameter outcome: what the investigator finds the candidate: nil confirms the decision's outcome.
    func prepareSignOff(decision seq: Int64, outcome: String?, reason: String?, user: String) throws -> SignOffPrepareReply {
        let store = try requireStore()
        guard let event = try store.event(seq: seq), event.type == .decisionIssued, let candidate = event.candidate else {
            throw TrialGateError(.unknownEvent, "event \(seq) is not a decision")
        }
        if let outcome, Outcome(rawValue: outcome) == nil || outcome == Outcome.needsReview.rawValue {
            throw TrialGateError(.invalidField, "outcome must be eligible or ineligible (what you find the candidate), got \"\(outcome)\"")
        }
        let state = try readState(candidate: candidate)
        let now = clock.now()
        let account = try Self.investigator(user, state, now: now)
        guard let trial = state.trial, let d = state.candidates[candidate]?.decisions.first(where: { $0.seq == seq }),
              let proposed = Outcome(rawValue: d.outcome)
        else { throw TrialGateError(.unknownEvent, "event \(seq) is not a decision with an outcome") }
        let target = outcome.flatMap(Outcome.init) ?? proposed
        guard let meaning = SignOffMeaning.of(confirming: proposed, to: target) else {
            throw TrialGateError(.notSignable, "decision \(seq) needs review: it cannot be confirmed; override it with outcome eligible or ineligible and a reason")
        }
        let statement = SignOffStatement.make(trial: trial, candidate: candidate, decision: d, decisionSHA256: DecisionSummary.signedSHA256(of: event),
                                              meaning: meaning, reason: reason, signer: account, signedAt: now)
        try Self.checkSignable(statement, signer: user, state: state, now: now, candidate: candidate)
        return SignOffPrepareReply(statement: statement, signedBytes: CanonicalJSON.string(statement),
                                   meaningText: statement["meaning_text"]?.stringValue, decision: event.payload["decision"] ?? .null)
    }

    /// The signer a signed statement names, once the signature components hold: `user` (when given) is the
    /// signer, the session may give the code alone only after its first signing, and the candidate it names.
    private func signer(of statement: JSONValue, user: String?, prepared: String) throws -> (signer: String, candidate: String) {
        guard let candidate = statement["candidate"]?.stringValue, let signer = statement["signer"]?["user"]?.stringValue else {
            throw TrialGateError(.invalidField, "statement must be the statement \(prepared) answered (candidate and signer.user are missing)")
        }
        if let user, user != signer { throw TrialGateError(.forbidden, "the statement is \(signer)'s, not \(user)'s") }
        if user == nil, !signingSessionContinues { throw Self.firstSigningNeedsBoth }
        return (signer, candidate)
    }

    /// Checks the signer's signing code, then their Ed25519 signature of `statement` with the key their account
    /// registers. Nothing is appended when either fails.
    private static func authenticate(_ signer: String, code: String, statement: JSONValue, signature: String, state: LogState,
                                     now: UTCTimestamp) throws {
        let account = try investigator(signer, state, now: now)
        guard let expected = account.signingSHA256, Digest.constantTimeEqual(Digest.sha256Hex(code), expected) else {
            throw TrialGateError(.signingFailed, "the signing code is not \(signer)'s")
        }
        guard SignedText.isCanonicalBase64(signature, bytes: 64) else {
            throw TrialGateError(.badSignature, "the signature must be the canonical base64 of a 64-byte Ed25519 signature")
        }
        guard let raw = account.publicKey.flatMap({ Data(base64Encoded: $0) }), let sig = Data(base64Encoded: signature),
              SignatureCheck.verify(signature: Array(sig), message: CanonicalJSON.encode(statement), publicKey: Array(raw))
        else {
            throw TrialGateError(.badSignature, "the signature does not verify with \(signer)'s registered key \(account.keyID ?? "")")
        }
    }

    func signOff(statement: JSONValue, signature: String, user: String?, signingCode: String) throws -> WriteReceipt {
        let (signer, candidate) = try signer(of: statement, user: user, prepared: "signoff.prepare")
        let events = try append(candidate: candidate, actor: signer) { state, now in
            try requireTrial(state)
            try Self.authenticate(signer, code: signingCode, statement: statement, signature: signature, state: state, now: now)
            let seq = statement["decision"]?["seq"]?.intValue.map(Int64.init)
            if let d = state.candidates[candidate]?.decisions.first(where: { $0.seq == seq }), let logged = try requireStore().event(seq: d.seq),
               statement["decision"]?["sha256"]?.stringValue != DecisionSummary.signedSHA256(of: logged) {
                throw TrialGateError(.notSignable, "the statement's decision.sha256 is not the SHA-256 of decision \(d.seq)'s signed bytes")
            }
            try Self.checkSignable(statement, signer: signer, state: state, now: now, candidate: candidate)
            return [EventDraft(timestamp: now, actor: signer, type: .decisionSigned, candidate: candidate,
                               payload: ["statement": statement, "signature": .string(signature)])]
        }
        var receipt = appended(events)
        // The event's check requires the statement's words, as a string: what the investigator signed.
        receipt.meaningText = try SignOff(payloadOf: events[0]).meaningText
        return receipt
    }

    // MARK: Attestations

    func prepareAttestation(candidate: String, fields: JSONValue, user: String) throws -> AttestPrepareReply {
        guard case .object(let members) = fields else { throw TrialGateError(.invalidField, "fields must be a JSON object") }
        let extra = members.keys.filter { !AttestationStatement.statedFields.contains($0) }.sorted()
        if !extra.isEmpty {
            throw TrialGateError(.unknownField, "attestation: unknown field \(extra.map { "\"\($0)\"" }.joined(separator: ", ")); allowed: \(AttestationStatement.statedFields.joined(separator: ", "))")
        }
        let state = try readState(candidate: candidate)
        let now = clock.now()
        let account = try Self.investigator(user, state, now: now)
        guard let trial = state.trial else { throw TrialGateError(.notInitialised, "the store has no trial yet") }
        try requireAttestable(fields, state)
        var payload = members
        payload["signer"] = .string(user)
        payload["printed_name"] = .string(account.printedName ?? "")
        payload["key_id"] = .string(account.keyID ?? "")
        payload["signed_at"] = .string(now.description)
        let statement = AttestationStatement.of(.object(payload), trial: trial, candidate: candidate)
        // The rules the append will check, with the error a signer can act on, before anyone signs.
        payload["signature"] = .string(Self.placeholderSignature)
        try Self.checkBeforeSigning(.attestationRecorded, payload: .object(payload), signer: user, candidate: candidate, state: state, now: now)
        return AttestPrepareReply(statement: statement, signedBytes: CanonicalJSON.string(statement))
    }

    func attest(statement: JSONValue, signature: String, user: String?, signingCode: String) throws -> WriteReceipt {
        let (signer, candidate) = try signer(of: statement, user: user, prepared: "attest.prepare")
        guard statement["format"]?.stringValue == AttestationStatement.format else {
            throw TrialGateError(.invalidField, "statement must be the statement attest.prepare answered (format \(AttestationStatement.format))")
        }
        return appended(try append(candidate: candidate, actor: signer) { state, now in
            let trial = try requireTrial(state)
            try Self.authenticate(signer, code: signingCode, statement: statement, signature: signature, state: state, now: now)
            var payload: [String: JSONValue] = [
                "signer": .string(signer), "printed_name": statement["signer"]?["printed_name"] ?? .null,
                "key_id": statement["signer"]?["key_id"] ?? .null, "signed_at": statement["signed_at"] ?? .null, "signature": .string(signature),
            ]
            for f in AttestationStatement.statedFields { if let v = statement[f] { payload[f] = v } }
            // The statement must be exactly what the payload restates: nothing signed is dropped or added.
            guard AttestationStatement.of(.object(payload), trial: trial, candidate: candidate) == statement else {
                throw TrialGateError(.invalidField, "the statement has fields an attestation does not carry, or names another trial")
            }
            try requireAttestable(.object(payload), state)
            return [EventDraft(timestamp: now, actor: signer, type: .attestationRecorded, candidate: candidate, payload: .object(payload))]
        })
    }

    // MARK: Queries

    func listQueries(candidate: String?, site: String?, status: String?) throws -> QueriesReply {
        let store = try requireStore()
        let now = clock.now()
        var ids: [String] = []
        if let candidate { ids = [candidate] } else {
            var seen = Set<String>()
            try store.forEachEvent(types: [.queryOpened]) { e in
                if let c = e.candidate, seen.insert(c).inserted { ids.append(c) }
                return true
            }
        }
        var rows: [QueryView] = []
        var counts: [String: Int] = [:]
        for id in ids {
            let c = try foldCandidate(id)
            if let site, c.site != site { continue }
            for q in c.queries {
                let st = q.status.rawValue
                if let status, status == "open" ? q.status == .closed : st != status { continue }
                counts[st, default: 0] += 1
                var row = QueryView(q)
                row.site = c.site
                row.ageDays = Self.days(from: q.openedAt, to: q.closed?.timestamp ?? now)
                rows.append(row)
            }
        }
        rows.sort { $0.seq < $1.seq }
        return QueriesReply(queries: rows, count: rows.count,
                            byStatus: .init(open: counts["open"] ?? 0, answered: counts["answered"] ?? 0, closed: counts["closed"] ?? 0))
    }

    static func days(from a: UTCTimestamp, to b: UTCTimestamp) -> Double {
        (Double(b.millisecondsSinceEpoch - a.millisecondsSinceEpoch) / 86_400_000 * 10).rounded() / 10
    }

    func openQuery(candidate: String, criterion: String?, text: String, actor: String) throws -> WriteReceipt {
        appended(try append(candidate: candidate, actor: actor) { state, now in
            try requireTrial(state)
            guard let c = state.candidates[candidate] else {
                throw TrialGateError(.unknownCandidate, "no candidate \"\(candidate)\" is registered")
            }
            if let criterion {
                guard let published = state.policyInForce else {
                    throw TrialGateError(.noPolicy, "no policy is in force, so no criterion can be queried")
                }
                let ids = try policy(for: published).criteria.map(\.id)
                guard ids.contains(criterion) else {
                    throw TrialGateError(.invalidField, "criterion \"\(criterion)\" is not a criterion of policy \(published.id) \(published.version); criteria: \(ids.joined(separator: ", "))")
                }
            }
            var payload: [String: JSONValue] = ["about": .string(criterion == nil ? "question" : "criterion"), "text": .string(text)]
            if let criterion { payload["criterion"] = .string(criterion) }
            if let d = c.decisions.last { payload["decision"] = .number(Double(d.seq)) }
            return [EventDraft(timestamp: now, actor: actor, type: .queryOpened, candidate: candidate, payload: .object(payload))]
        })
    }

    /// The candidate query `seq` is on.
    private func queryCandidate(_ seq: Int64) throws -> String {
        guard let e = try requireStore().event(seq: seq), e.type == .queryOpened, let c = e.candidate else {
            throw TrialGateError(.unknownEvent, "event \(seq) is not a query")
        }
        return c
    }

    func answerQuery(_ seq: Int64, note: String, records: [Int64], actor: String) throws -> WriteReceipt {
        let candidate = try queryCandidate(seq)
        return appended(try append(candidate: candidate, actor: actor) { _, now in
            var payload: [String: JSONValue] = ["query": .number(Double(seq)), "note": .string(note)]
            if !records.isEmpty { payload["records"] = .array(records.map { .number(Double($0)) }) }
            return [EventDraft(timestamp: now, actor: actor, type: .queryAnswered, candidate: candidate, payload: .object(payload))]
        })
    }

    func closeQuery(_ seq: Int64, resolution: String, actor: String) throws -> WriteReceipt {
        let candidate = try queryCandidate(seq)
        return appended(try append(candidate: candidate, actor: actor) { _, now in
            [EventDraft(timestamp: now, actor: actor, type: .queryClosed, candidate: candidate,
                        payload: ["query": .number(Double(seq)), "resolution": .string(resolution)])]
        })
    }

    // MARK: Queries the log opens by itself

    /// The queries a decision opens: one per criterion it could not decide, unless one is open already.
    static func criterionQueries(_ decision: Decision, seq: Int64, candidate: CandidateState, actor: String, now: UTCTimestamp) -> [EventDraft] {
        decision.criteria.filter(\.result.isUndecided).compactMap { r in
            if candidate.queries.contains(where: { $0.about == .criterion && $0.criterion == r.id && $0.status != .closed }) { return nil }
            let text = r.result == .needsAttestation
                ? "\(r.id) needs the investigator's signed attestation (`trialgate attest --criterion \(r.id)`) before decision \(seq) can count"
                : "\(r.id) could not be decided in decision \(seq): \(r.reason)"
            return EventDraft(timestamp: now, actor: actor, type: .queryOpened, candidate: candidate.id, payload: [
                "about": "criterion", "criterion": .string(r.id), "decision": .number(Double(seq)), "text": .string(text),
            ])
        }
    }

    /// The query a write opens when it makes the candidate's current decision stale.
    static func staleQuery(before: CandidateState?, after: CandidateState, policies: [PublishedPolicy], actor: String,
                           now: UTCTimestamp) -> EventDraft? {
        guard let before, let d = after.decisions.last, before.decisions.last?.seq == d.seq, !after.isWithdrawn,
              before.staleCauses(policies: policies).isEmpty, let cause = after.changesSinceDecision.first
        else { return nil }
        return staleQueryDraft(d, cause: cause, candidate: after.id, actor: actor, now: now)
    }

    static func staleQueryDraft(_ d: DecisionSummary, cause: StaleCause, candidate: String, actor: String, now: UTCTimestamp) -> EventDraft {
        EventDraft(timestamp: now, actor: actor, type: .queryOpened, candidate: candidate, payload: [
            "about": "stale_decision", "decision": .number(Double(d.seq)),
            "text": .string("Decision \(d.seq) (\(d.outcome)) is stale: event \(cause.seq) (\(cause.detail)). Decide again, then sign off."),
        ])
    }
}
