import Foundation
import TrialGateCore

/// One problem found in the log, at the first event where it shows.
public struct AuditProblem: Sendable, Equatable, CustomStringConvertible {
    public let seq: Int64
    /// `hash_mismatch`, `chain_broken`, `not_canonical`, `invalid_event`, `bad_signature`, `policy_digest`, `decision_mismatch`, …
    public let code: String
    public let message: String

    public init(seq: Int64, code: String, message: String) {
        self.seq = seq
        self.code = code
        self.message = message
    }

    public var description: String { "event \(seq): \(code): \(message)" }
}

/// Folds the log event by event and checks everything a regulator would: canonical bytes, hashes, the
/// chain, the rules of each event, policy digests, decision signatures, and that each decision is
/// re-derived byte for byte from the events before it with the policy then in force.
public struct LogAuditor {
    /// The state folded so far.
    public private(set) var state = LogState()
    /// Problems found, in log order.
    public private(set) var problems: [AuditProblem] = []
    public private(set) var eventsChecked: Int64 = 0
    public private(set) var signaturesChecked = 0
    public private(set) var decisionsReproduced = 0
    public private(set) var decisionsMismatched = 0
    private var policies: [String: Policy] = [:]
    private var reproducedSeqs: Set<Int64> = []
    private let signatures = SignatureBatch()
    /// What each queued signature check is about, by its tag (an event's seq; minus a checkpoint's size).
    private var signatureSubjects: [Int64: String] = [:]
    /// The RFC 6962 tree recomputed from the stored bytes.
    public private(set) var tree = MerkleFrontier()
    public private(set) var checkpointsChecked = 0
    /// The size of the newest checkpoint checked (0: none). Every event TrialGate appends is covered by a
    /// checkpoint signed in its own transaction, so events beyond it were written by someone else.
    public private(set) var coveredSize: Int64 = 0

    public init() {}

    /// Waits for the signature checks still running and reports their failures. Call once, after the last `feed`.
    /// - Parameter requireCoveredHead: report the first event no checkpoint covers (`head_uncovered`).
    public mutating func finish(requireCoveredHead: Bool = true) {
        if requireCoveredHead, eventsChecked > coveredSize {
            report(coveredSize + 1, "head_uncovered", coveredSize == 0
                   ? "the log has \(eventsChecked) events and no signed checkpoint"
                   : "events \(coveredSize + 1)…\(eventsChecked) are not covered by a signed checkpoint (the newest covers \(coveredSize)): written outside TrialGate")
        }
        for tag in Set(signatures.finish()).sorted() {
            if tag < 0 {
                report(-tag, "checkpoint_signature", "the checkpoint of size \(-tag) is not signed by the trial key then in force")
                continue
            }
            let subject = signatureSubjects[tag] ?? "decision"
            let key = subject == "sign-off" || subject == "attestation" ? "the key the signer's account registers" : "the key in force"
            report(tag, "bad_signature", "the \(subject)'s Ed25519 signature does not verify with \(key)")
            if subject == "decision" {
                decisionsMismatched += 1
                if reproducedSeqs.contains(tag) { decisionsReproduced -= 1 }
            }
        }
        problems.sort { $0.seq < $1.seq }
    }

    /// Checks the next event.
    /// - Parameter storedBody: the exact bytes the store holds for the body, when read from a store.
    public mutating func feed(_ event: Event, storedBody: [UInt8]? = nil) {
        let canonical = event.canonicalBody
        feed(Self.prepare(event, storedBody: storedBody ?? canonical, canonicalBody: canonical))
    }

    /// An event with the checks that need no log state already done, so that many can be prepared in
    /// parallel while one thread folds.
    public struct Prepared: Sendable {
        public let event: Event
        /// SHA-256 of the stored body bytes.
        public let bodyHash: String
        /// Whether the stored bytes are the RFC 8785 form of the parsed event.
        public let canonical: Bool
        /// RFC 6962 leaf hash of the stored bytes.
        public let leafHash: [UInt8]

        public init(event: Event, bodyHash: String, canonical: Bool, leafHash: [UInt8]) {
            self.event = event
            self.bodyHash = bodyHash
            self.canonical = canonical
            self.leafHash = leafHash
        }
    }

    /// Hashes the stored bytes and checks they are canonical. Pure; safe to run on any thread.
    public static func prepare(_ event: Event, storedBody: [UInt8], canonicalBody: [UInt8]? = nil) -> Prepared {
        prepare(event, storedBody: storedBody, isCanonical: (canonicalBody ?? event.canonicalBody) == storedBody)
    }

    /// Hashes the stored bytes of an event whose canonical form was checked while parsing (`Event.decode`).
    public static func prepare(_ event: Event, storedBody: [UInt8], isCanonical: Bool) -> Prepared {
        Prepared(event: event, bodyHash: Digest.sha256Hex(storedBody), canonical: isCanonical, leafHash: Merkle.leafHash(storedBody))
    }

    /// Checks the next event, prepared by `prepare`.
    public mutating func feed(_ prepared: Prepared) {
        let event = prepared.event
        eventsChecked += 1
        tree.append(leafHash: prepared.leafHash)
        if !prepared.canonical {
            report(event.seq, "not_canonical", "the stored body is not in RFC 8785 canonical form")
        }
        let hash = prepared.bodyHash
        if hash != event.hash {
            report(event.seq, "hash_mismatch", "stored hash \(event.hash.prefix(16))… but the body hashes to \(hash.prefix(16))…")
        }
        if event.seq != state.size + 1 {
            report(event.seq, "chain_broken", "expected event \(state.size + 1) here")
        } else if event.prevHash != state.headHash {
            report(event.seq, "chain_broken", "prev_hash does not match the hash of event \(state.size)")
        }
        // A decision is re-derived from the state just before it; check it before folding it in
        // (copying the whole state per event would make the audit quadratic).
        if event.type == .decisionIssued, event.seq == state.size + 1 {
            checkDecision(event, before: state)
        }
        if event.type == .keyRotated, event.seq == state.size + 1 {
            checkRotation(event, before: state)
        }
        if event.type == .decisionSigned, event.seq == state.size + 1 {
            checkSignOff(event, before: state)
        }
        if event.type == .attestationRecorded, event.schemaVersion >= 3, event.seq == state.size + 1 {
            checkAttestation(event, before: state)
        }
        if event.type == .userAdded || event.type == .userSignerRotated, event.payload["public_key"] != nil {
            checkAccountKey(event)
        }
        do {
            try state.apply(Event(seq: state.size + 1, timestamp: event.timestamp, actor: event.actor, type: event.type,
                                  candidate: event.candidate, schemaVersion: event.schemaVersion, payload: event.payload,
                                  prevHash: event.prevHash, hash: event.hash))
        } catch let e as TrialGateError {
            report(event.seq, "invalid_event", e.message)
            passOver(event)
            return
        } catch {
            report(event.seq, "invalid_event", "\(error)")
            passOver(event)
            return
        }
        if event.type == .policyPublished { checkPolicy(event) }
    }

    /// Moves past an event the fold refused, without folding it: the chain, the tree and every later event's own
    /// checks (signatures above all) go on from there, instead of every later event being reported out of order.
    private mutating func passOver(_ event: Event) {
        if event.seq == state.size + 1 { state.setHead(size: event.seq, hash: event.hash) }
    }

    /// Checks a signed checkpoint of the first `tree.size` events: call it right after feeding event `size`.
    /// Its root must be the recomputed one and it must be signed by the trial's key in force at that size.
    public mutating func checkCheckpoint(_ note: String) {
        let size = tree.size
        checkpointsChecked += 1
        coveredSize = size
        guard let trial = state.trial, let key = state.signingKey, let raw = Data(base64Encoded: key.publicKey).map(Array.init),
              let verifier = try? NoteVerifierKey(name: trial.logOrigin, publicKey: raw) else {
            report(size, "checkpoint_signature", "no trial key is in force at size \(size)")
            return
        }
        let parsed: (text: String, signatures: [SignedNote.Signature])
        let checkpoint: Checkpoint
        do {
            parsed = try SignedNote.parse(note)
            checkpoint = try Checkpoint(text: parsed.text)
        } catch {
            report(size, "checkpoint_malformed", "the stored checkpoint of size \(size) cannot be read: \(error)")
            return
        }
        if checkpoint.origin != trial.logOrigin || checkpoint.size != size {
            report(size, "checkpoint_mismatch", "the checkpoint says \(checkpoint.origin) size \(checkpoint.size), expected \(trial.logOrigin) size \(size)")
        }
        if checkpoint.root != tree.root {
            report(size, "checkpoint_root", "the checkpoint's root for size \(size) is not the root of the events as stored")
        }
        guard let sig = parsed.signatures.first(where: { $0.name == verifier.name && $0.keyID == verifier.keyID }) else {
            report(size, "checkpoint_signature", "the checkpoint of size \(size) has no signature by the key in force (\(key.keyID))")
            return
        }
        signatures.add(seq: -size, signature: sig.signature, message: Array(parsed.text.utf8), publicKey: raw)
    }

    private mutating func checkRotation(_ event: Event, before: LogState) {
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
    private mutating func checkSignOff(_ event: Event, before: LogState) {
        let statement = event.payload["statement"] ?? .null
        let seq = statement["decision"]?["seq"]?.intValue.map(Int64.init)
        if let candidate = event.candidate, let d = before.candidates[candidate]?.decisions.first(where: { $0.seq == seq }),
           statement["decision"]?["sha256"]?.stringValue != d.signedSHA256 {
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
    private mutating func checkAttestation(_ event: Event, before: LogState) {
        guard let trial = before.trial, let candidate = event.candidate else { return }
        checkSignerSignature(event, user: event.payload["signer"]?.stringValue,
                             message: CanonicalJSON.encode(AttestationStatement.of(event.payload, trial: trial, candidate: candidate)),
                             subject: "attestation", before: before)
    }

    /// An account's registered key id names its public key.
    private mutating func checkAccountKey(_ event: Event) {
        guard let raw = event.payload["public_key"]?.stringValue.flatMap({ Data(base64Encoded: $0) }), raw.count == 32,
              event.payload["key_id"]?.stringValue == TrialKey.keyID(publicKey: Array(raw)) else {
            report(event.seq, "account_key", "the account's public_key is not a 32-byte Ed25519 key or its key_id does not name it")
            return
        }
    }

    private mutating func report(_ seq: Int64, _ code: String, _ message: String) {
        problems.append(AuditProblem(seq: seq, code: code, message: message))
    }

    private mutating func checkPolicy(_ event: Event) {
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
        } catch let e as TrialGateError {
            report(event.seq, "invalid_policy", e.message)
        } catch {
            report(event.seq, "invalid_policy", "\(error)")
        }
    }

    private mutating func checkDecision(_ event: Event, before: LogState) {
        guard let decision = event.payload["decision"], let sigText = event.payload["signature"]?.stringValue else { return }
        let signed = Decision.signedBytes(of: decision)
        guard let key = before.signingKey, let publicKey = Data(base64Encoded: key.publicKey).map(Array.init) else {
            report(event.seq, "bad_signature", "no trial public key precedes this decision")
            return
        }
        signaturesChecked += 1
        // Signatures are checked on the other cores while the fold goes on; `finish` collects the verdicts.
        signatures.add(seq: event.seq, signature: Data(base64Encoded: sigText).map(Array.init) ?? [], message: signed, publicKey: publicKey)
        if decision["key_id"]?.stringValue != key.keyID {
            report(event.seq, "bad_signature", "the decision names key \(decision["key_id"]?.stringValue ?? "none"), not the trial's key in force \(key.keyID)")
        }
        if decision["log"]?["size"]?.intValue.map(Int64.init) != event.seq - 1 || decision["log"]?["head"]?.stringValue != event.prevHash {
            report(event.seq, "decision_context", "the decision does not name the log state it was appended to")
        }
        // Re-derive: same candidate state, same policy, same time and signer, must give the same bytes.
        guard let candidateID = event.candidate, let candidate = before.candidates[candidateID],
            let sha = decision["policy"]?["sha256"]?.stringValue, let policy = policies[sha],
            let policyEvent = before.policies.last(where: { $0.sha256 == sha }), policyEvent.seq == before.policyInForce?.seq,
            let at = decision["decided_at"]?.stringValue.flatMap(UTCTimestamp.init),
            let by = decision["decided_by"]?.stringValue, let keyID = decision["key_id"]?.stringValue
        else {
            decisionsMismatched += 1
            report(event.seq, "decision_mismatch", "the decision does not name the policy in force and its context")
            return
        }
        let rederived = Decision(candidate: candidate, policy: policy, policySHA256: sha, logSize: before.size,
                                 logHead: before.headHash, decidedAt: at, decidedBy: by, keyID: keyID)
        if rederived.json == decision {
            decisionsReproduced += 1
            reproducedSeqs.insert(event.seq)
        } else {
            decisionsMismatched += 1
            report(event.seq, "decision_mismatch",
                   "re-evaluating the policy gives \(rederived.outcome.rawValue), the log says \(decision["outcome"]?.stringValue ?? "?")")
        }
    }
}

extension DecisionSummary {
    /// The hex SHA-256 of the decision's signed bytes: what an investigator's sign-off names it by.
    public var signedSHA256: String { Digest.sha256Hex(Decision.signedBytes(of: decision)) }
}
