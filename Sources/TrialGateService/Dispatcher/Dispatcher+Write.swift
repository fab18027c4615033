import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// The receipt of a write: the command's own event first; review queries it opened follow it.
    func appended(_ events: [Event]) -> WriteReceipt { WriteReceipt(events) }

    /// The trial, or `not_initialised`.
    @discardableResult
    func requireTrial(_ state: LogState) throws -> TrialInfo {
        guard let trial = state.trial else { throw TrialGateError(.notInitialised, "the store has no trial yet; run `trialgate init`") }
        return trial
    }

    func initialise(trialID: String, origin: String, actor: String) throws -> WriteReceipt {
        let key = try key()
        // The origin's form (it names the checkpoint key) is checked with the event, by LogState.check.
        let events = try append(candidate: nil, actor: actor) { state, now in
            if state.trial != nil || state.size > 0 { throw TrialGateError(.alreadyInitialised, "the store already holds a trial") }
            return [EventDraft(timestamp: now, actor: actor, type: .trialInitialised, candidate: nil, payload: [
                "trial_id": .string(trialID), "log_origin": .string(origin),
                "public_key": .string(Data(key.publicKey).base64EncodedString()), "key_id": .string(key.keyID),
            ])]
        }
        var receipt = appended(events)
        receipt.keyID = key.keyID
        receipt.publicKeyPEM = key.publicKeyPEM
        return receipt
    }

    func publishPolicy(text: String, file: String, actor: String) throws -> WriteReceipt {
        let policy = try PolicyLoader.load(text, file: file)
        let sha = Digest.sha256Hex(text)
        // Decisions made under the policy in force become stale: each opens a review query, in the same commit.
        let folded = try fold(asOfSeq: nil, asOfTime: nil)
        let current = folded.candidates.values.filter { !$0.isWithdrawn && !$0.decisions.isEmpty && $0.staleCauses(policies: folded.policies).isEmpty }
            .sorted { $0.registeredSeq < $1.registeredSeq }
        return try inOneTransaction {
            var receipt = try publishPolicy(policy, text: text, sha: sha, actor: actor)
            let published = StaleCause(seq: receipt.seq, type: .policyPublished,
                                       detail: "policy \(Decision.policyName(id: policy.id, version: policy.version)) published")
            var opened = 0
            for c in current {
                let d = c.decisions.last!
                opened += try append(candidate: c.id, actor: actor) { state, now in
                    // Re-checked inside the transaction: the candidate may have changed since the fold.
                    guard let now_ = state.candidates[c.id], now_.decisions.last?.seq == d.seq, !now_.isWithdrawn,
                          now_.changesSinceDecision.isEmpty else { return [] }
                    return [Self.staleQueryDraft(d, cause: published, candidate: c.id, actor: actor, now: now)]
                }.count
            }
            receipt.queriesOpened = opened
            return receipt
        }
    }

    private func publishPolicy(_ policy: Policy, text: String, sha: String, actor: String) throws -> WriteReceipt {
        let events = try append(candidate: nil, actor: actor) { state, now in
            try requireTrial(state)
            if let current = state.policyInForce, current.sha256 == sha {
                throw TrialGateError(.alreadyPublished, "this exact policy is already in force (event \(current.seq))")
            }
            if let why = policy.modelGateProblem(state.models) {
                throw TrialGateError(.invalidPolicy, "policy \(policy.id) \(policy.version): \(why)")
            }
            if state.policies.contains(where: { $0.id == policy.id && $0.version == policy.version && $0.sha256 != sha }) {
                throw TrialGateError(.versionReused, "policy \(policy.id) version \(policy.version) was published with other text; give the change a new version")
            }
            return [EventDraft(timestamp: now, actor: actor, type: .policyPublished, candidate: nil, payload: [
                "policy_id": .string(policy.id), "version": .string(policy.version), "sha256": .string(sha), "text": .string(text),
            ])]
        }
        policyCache[sha] = policy
        var receipt = appended(events)
        receipt.policy = .init(id: policy.id, version: policy.version, sha256: sha, criteria: policy.criteria.count)
        return receipt
    }

    func register(candidate: String, fields: JSONValue, actor: String) throws -> WriteReceipt {
        appended(try append(candidate: candidate, actor: actor) { state, now in
            try requireTrial(state)
            return [EventDraft(timestamp: now, actor: actor, type: .candidateRegistered, candidate: candidate, payload: fields)]
        })
    }

    func record(kind: String, candidate: String, fields: JSONValue, actor: String) throws -> WriteReceipt {
        guard let type = EventType.recordKinds[kind] else {
            throw TrialGateError(.invalidField, "unknown record kind \"\(kind)\"; known: \(EventType.recordKinds.keys.sorted().joined(separator: ", "))")
        }
        if type == .attestationRecorded {
            throw TrialGateError(.invalidField, "an attestation is an investigator's signed statement: use `trialgate attest` (attest.prepare, then attest), not record")
        }
        return appended(try append(candidate: candidate, actor: actor) { state, now in
            try requireTrial(state)
            return [EventDraft(timestamp: now, actor: actor, type: type, candidate: candidate, payload: fields)]
        })
    }

    /// An attestation must name a criterion the policy in force attests: a misspelt id would be recorded and
    /// never read.
    func requireAttestable(_ fields: JSONValue, _ state: LogState) throws {
        guard let criterion = fields["criterion"]?.stringValue else { return }  // the schema names what is missing
        guard let published = state.policyInForce else {
            throw TrialGateError(.noPolicy, "no policy is in force, so no criterion can be attested")
        }
        let ids = try policy(for: published).attestationIDs
        guard ids.contains(criterion) else {
            throw TrialGateError(.invalidField, "attestation.recorded: \"criterion\" \"\(criterion)\" is not attested under policy \(published.id) \(published.version); attested criteria: \(ids.sorted().joined(separator: ", "))")
        }
    }

    func correct(seq: Int64, field: String, value: JSONValue, reason: String, actor: String) throws -> WriteReceipt {
        let store = try requireStore()
        guard let target = try store.event(seq: seq) else { throw TrialGateError(.unknownEvent, "there is no event \(seq)") }
        guard let candidate = target.candidate, target.type == .candidateRegistered || target.type.factPrefix != nil else {
            throw TrialGateError(.notCorrectable, "event \(seq) is a \(target.type.rawValue); only registrations and clinical records can be corrected")
        }
        if reason.allSatisfy(\.isWhitespace) {
            throw TrialGateError(.missingField, "a correction needs a reason (21 CFR 11.10(e): changes must not obscure what was recorded)")
        }
        return appended(try append(candidate: candidate, actor: actor) { state, now in
            try requireTrial(state)
            guard let record = state.candidates[candidate]?.record(seq: seq) else {
                throw TrialGateError(.unknownEvent, "event \(seq) is not a record of candidate \(candidate)")
            }
            let old = record.current[field] ?? .null
            return [EventDraft(timestamp: now, actor: actor, type: .entryCorrected, candidate: candidate, payload: [
                "corrects": .number(Double(seq)), "field": .string(field), "old_value": old, "new_value": value, "reason": .string(reason),
            ])]
        })
    }

    /// Appends `candidate.withdrawn` with its CONSORT category and the reason beside it.
    /// - Throws: `missing_field` when the category is `other` and no reason is given.
    func withdraw(candidate: String, category: WithdrawalCategory, reason: String?, actor: String) throws -> WriteReceipt {
        if category == .other, (reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw TrialGateError(.missingField, "withdraw: \"reason\" is required when category is other (say why in words)")
        }
        return appended(try append(candidate: candidate, actor: actor) { state, now in
            try requireTrial(state)
            return [EventDraft(timestamp: now, actor: actor, type: .candidateWithdrawn, candidate: candidate,
                               payload: Withdrawal.payload(category: category, reason: reason))]
        })
    }

    /// Brings `newKey` into force: a `key.rotated` event whose statement (the new key, bound to the trial and the
    /// log position) is signed by the key in force and by the new key. Decisions and checkpoints from then on
    /// are signed with the new key; earlier ones stay verifiable with the key history. For the operator at the
    /// store's host only (the new private key never travels over the socket).
    func rotateKey(to newKey: TrialKey, actor: String) throws -> WriteReceipt {
        let old: TrialKey
        do { old = try key() } catch { throw TrialGateError(error) }
        do {
            let events = try append(candidate: nil, actor: actor) { state, now in
                let trial = try requireTrial(state)
                try Self.requireKeyInForce(old, state)
                let publicKey = Data(newKey.publicKey).base64EncodedString()
                let statement = CanonicalJSON.encode(keyRotationStatement(
                    trialID: trial.trialID, logOrigin: trial.logOrigin, previousKeyID: old.keyID, publicKey: publicKey,
                    keyID: newKey.keyID, logSize: state.size, logHead: state.headHash))
                // The checkpoint of this write is the first one signed with the new key.
                cachedKey = newKey
                return [EventDraft(timestamp: now, actor: actor, type: .keyRotated, candidate: nil, payload: [
                    "previous_key_id": .string(old.keyID), "public_key": .string(publicKey), "key_id": .string(newKey.keyID),
                    "signature": .string(Data(old.sign(statement)).base64EncodedString()),
                    "new_key_signature": .string(Data(newKey.sign(statement)).base64EncodedString()),
                ])]
            }
            var receipt = appended(events)
            receipt.previousKeyID = old.keyID
            receipt.keyID = newKey.keyID
            receipt.publicKeyPEM = newKey.publicKeyPEM
            return receipt
        } catch {
            cachedKey = old
            cachedSigner = nil
            throw TrialGateError(error)
        }
    }

    func decide(candidate: String, actor: String) throws -> DecisionReply {
        let key = try key()
        var issued: (decision: Decision, json: JSONValue, signature: String)?
        let events = try append(candidate: candidate, actor: actor) { state, now in
            try requireTrial(state)
            try Self.requireKeyInForce(key, state)
            guard let published = state.policyInForce else {
                throw TrialGateError(.noPolicy, "no policy has been published; run `trialgate policy publish FILE` first")
            }
            guard let c = state.candidates[candidate] else {
                throw TrialGateError(.unknownCandidate, "no candidate \"\(candidate)\" is registered")
            }
            if let w = c.withdrawal {
                throw TrialGateError(.candidateWithdrawn, "candidate \"\(candidate)\" was withdrawn (event \(w.seq)); no decision can be issued")
            }
            let decision = Decision(candidate: c, policy: try policy(for: published), models: ModelEvidence(state, candidate: c), policySHA256: published.sha256,
                                    logSize: state.size, logHead: state.headHash, decidedAt: now, decidedBy: actor, keyID: key.keyID)
            // Built once for the signature, the event and the reply.
            let json = decision.json
            let signature = Data(key.sign(Decision.signedBytes(of: json))).base64EncodedString()
            issued = (decision, json, signature)
            // Every criterion it could not decide opens a review query, in the same commit.
            return [EventDraft(timestamp: now, actor: actor, type: .decisionIssued, candidate: candidate,
                               payload: ["decision": json, "signature": .string(signature)])]
                + Self.criterionQueries(decision, seq: state.size + 1, candidate: c, actor: actor, now: now)
        }
        guard let (decision, json, signature) = issued, let event = events.first(where: { $0.type == .decisionIssued }) else {
            throw TrialGateError(.internal, "no decision was issued")
        }
        // Every decision gets a checkpoint that covers it (a lone command gets one at its commit anyway).
        if let txn = batchTransaction { try issueCheckpoint(txn) }
        let document = DecisionDocument(decision)
        assert(try! JSONValueEncoder().encode(document) == json, "the typed decision encodes as the one signed")
        return DecisionReply(seq: event.seq, logIndex: event.seq - 1, hash: event.hash, outcome: decision.outcome.rawValue, decision: document,
                             signature: signature, queriesOpened: events.filter { $0.type == .queryOpened }.map(\.seq))
    }
}
