import Foundation
import TrialGateCore

/// The checks of single events that need more than the fold: signatures, bindings, policy texts, and decisions
/// re-derived from the state before them.
extension LogAuditor {
    mutating func checkRotation(_ event: Event, before: LogState) {
        guard let trial = before.trial, let old = before.signingKey else {
            report(event.seq, "bad_signature", "the key rotation names no usable keys")
            return
        }
        switch KeyChain.requirements(of: event, trial: trial, previous: old) {
        case .failure(let problem):
            report(event.seq, "bad_signature", problem.message)
        case .success(let required):
            signatureSubjects[event.seq] = "key rotation"
            signaturesChecked += required.count
            for r in required { signatures.add(seq: event.seq, signature: r.signature, message: r.message, publicKey: r.publicKey) }
        }
    }

    /// An investigator's sign-off: it names the exact decision (the SHA-256 of its signed bytes) and its Ed25519
    /// signature verifies with the key the signer's account registers. The fold checks the rest (the newest,
    /// current decision of that candidate; the signer in force at its site; the meaning and the time).
    mutating func checkSignOff(_ event: Event, before: LogState) {
        let statement = event.payload["statement"] ?? .null
        let seq = statement["decision"]?["seq"]?.intValue.map(Int64.init)
        if let candidate = event.candidate, let d = before.candidates[candidate]?.decisions.first(where: { $0.seq == seq }),
           statement["decision"]?["sha256"]?.stringValue != decisionDigests[d.seq] {
            report(event.seq, "signoff_binding", "the sign-off names decision \(d.seq) with a SHA-256 that is not that decision's")
        }
        checkSignerSignature(event, user: statement["signer"]?["user"]?.stringValue, message: CanonicalJSON.encode(statement),
                             subject: "sign-off", before: before)
    }

    /// Queues the check of an investigator's signature (`signature` of `event`) over `message`, with the key the
    /// signer's account holds at this point; the fold reports a signer who is not an investigator.
    private mutating func checkSignerSignature(_ event: Event, user: String?, message: [UInt8], subject: String, before: LogState) {
        guard let user, let key = before.users[user]?.publicKey.flatMap({ Data(base64Encoded: $0) }).map(Array.init) else { return }
        signaturesChecked += 1
        signatureSubjects[event.seq] = subject
        signatures.add(seq: event.seq, signature: event.payload["signature"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? [],
                       message: message, publicKey: key)
    }

    /// An investigator's signed attestation (schema 3): the statement rebuilt from the event verifies with the key
    /// the signer's account registers.
    mutating func checkAttestation(_ event: Event, before: LogState) {
        guard let trial = before.trial, let candidate = event.candidate else { return }
        checkSignerSignature(event, user: event.payload["signer"]?.stringValue,
                             message: CanonicalJSON.encode(AttestationStatement.of(event.payload, trial: trial, candidate: candidate)),
                             subject: "attestation", before: before)
    }

    /// An account's registered key id names its public key.
    mutating func checkAccountKey(_ event: Event) {
        guard let raw = event.payload["public_key"]?.stringValue.flatMap({ Data(base64Encoded: $0) }), raw.count == 32,
              event.payload["key_id"]?.stringValue == TrialKey.keyID(publicKey: Array(raw)) else {
            report(event.seq, "account_key", "the account's public_key is not a 32-byte Ed25519 key or its key_id does not name it")
            return
        }
    }

    mutating func checkPolicy(_ event: Event) {
        guard let text = event.payload["text"]?.stringValue, let sha = event.payload["sha256"]?.stringValue else { return }
        if Digest.sha256Hex(text) != sha {
            report(event.seq, "policy_digest", "the policy text does not hash to its recorded sha256")
            return
        }
        do {
            let policy = try PolicyLoader.load(text, file: "policy in event \(event.seq)")
            if policy.id != event.payload["policy_id"]?.stringValue || policy.version != event.payload["version"]?.stringValue {
                report(event.seq, "policy_mismatch", "policy_id/version do not match the policy text")
            }
            policies[sha] = policy
            if let why = policy.modelGateProblem(state.models.filter { $0.seq < event.seq }) {
                report(event.seq, "policy_model_gate", "policy \(policy.id) \(policy.version): \(why)")
            }
        } catch let e as TrialGateError {
            report(event.seq, "invalid_policy", e.message)
        } catch {
            report(event.seq, "invalid_policy", "\(error)")
        }
    }

    /// A registered model's artifact and extraction settings must be the texts its card's digests name: a swapped
    /// artifact is named here even when the log around it was re-hashed.
    mutating func checkModelDigests(_ event: Event) {
        for (text, digest, what) in [("artifact", "artifact_sha256", "artifact"), ("settings", "settings_sha256", "extraction settings")] {
            let holder = text == "artifact" ? event.payload : event.payload["extraction"]
            guard let t = holder?[text]?.stringValue, let sha = holder?[digest]?.stringValue else { continue }
            if Digest.sha256Hex(t) != sha {
                report(event.seq, "model_digest", "the model's \(what) does not hash to its recorded \(digest)")
            }
        }
    }

    /// Checks what a decision says of its context here, and queues its signature check and its re-derivation from
    /// the state just before it (`DecisionChecks`, on the other cores); `finish` reports their verdicts.
    /// - Parameter signed: the decision's signed bytes as stored, when the body was found canonical; else they are
    ///   encoded from the parsed decision.
    mutating func checkDecision(_ event: Event, before: LogState, signed: ArraySlice<UInt8>?) {
        guard let decision = event.payload["decision"], let sigText = event.payload["signature"]?.stringValue else { return }
        guard let key = before.signingKey, let publicKey = Data(base64Encoded: key.publicKey).map(Array.init) else {
            report(event.seq, "bad_signature", "no trial public key precedes this decision")
            return
        }
        signaturesChecked += 1
        let signature = Data(base64Encoded: sigText).map(Array.init) ?? []
        if decision["key_id"]?.stringValue != key.keyID {
            report(event.seq, "bad_signature", "the decision names key \(decision["key_id"]?.stringValue ?? "none"), not the trial's key in force \(key.keyID)")
        }
        if decision["log"]?["size"]?.intValue.map(Int64.init) != event.seq - 1 || decision["log"]?["head"]?.stringValue != event.prevHash {
            report(event.seq, "decision_context", "the decision does not name the log state it was appended to")
        }
        guard let candidateID = event.candidate, let candidate = before.candidates[candidateID],
            let sha = decision["policy"]?["sha256"]?.stringValue, let policy = policies[sha],
            let policyEvent = before.policies.last(where: { $0.sha256 == sha }), policyEvent.seq == before.policyInForce?.seq,
            let at = decision["decided_at"]?.stringValue.flatMap(UTCTimestamp.init),
            let by = decision["decided_by"]?.stringValue, let keyID = decision["key_id"]?.stringValue
        else {
            decisionsMismatched += 1
            report(event.seq, "decision_mismatch", "the decision does not name the policy in force and its context")
            decisionChecks.add(.init(seq: event.seq, decision: decision, signed: signed, signature: signature, publicKey: publicKey, context: nil))
            return
        }
        // Re-derive: same candidate state, same policy, same time and signer, must give the same bytes.
        let context = DecisionChecks.Context(candidate: candidate, policy: policy, models: ModelEvidence(before, candidate: candidate),
                                             policySHA256: sha, logSize: before.size, logHead: before.headHash, decidedAt: at,
                                             decidedBy: by, keyID: keyID)
        decisionChecks.add(.init(seq: event.seq, decision: decision, signed: signed, signature: signature, publicKey: publicKey, context: context))
    }

    /// Reports the verdicts of the decision checks queued by `checkDecision`, in log order.
    mutating func reportDecisionChecks() {
        for v in decisionChecks.finish() {
            if v.reproduced == true && v.signatureValid { decisionsReproduced += 1 }
            if v.reproduced == false {
                decisionsMismatched += 1
                report(v.seq, "decision_mismatch", "re-evaluating the policy gives \(v.rederivedOutcome ?? "?"), the log says \(v.loggedOutcome ?? "?")")
            }
            if !v.signatureValid {
                report(v.seq, "bad_signature", "the decision's Ed25519 signature does not verify with the key in force")
                decisionsMismatched += 1
            }
        }
    }
}
