import Foundation
import TrialGateCore

/// Folds the log event by event and checks everything a regulator would: canonical bytes, hashes, the
/// chain, the rules of each event, policy digests, decision signatures, and that each decision is
/// re-derived byte for byte from the events before it with the policy then in force.
public struct LogAuditor {
    /// The state folded so far.
    public private(set) var state = LogState()
    /// Problems found, in log order.
    public private(set) var problems: [AuditProblem] = []
    public private(set) var eventsChecked: Int64 = 0
    public internal(set) var signaturesChecked = 0
    public internal(set) var decisionsReproduced = 0
    public internal(set) var decisionsMismatched = 0
    var policies: [String: Policy] = [:]
    let signatures = SignatureBatch()
    /// Decisions' signatures and re-derivations, checked on the other cores.
    let decisionChecks = DecisionChecks()
    /// The hex SHA-256 of each decision's signed bytes, by seq: what a sign-off must name (the state keeps no bodies).
    var decisionDigests: [Int64: String] = [:]
    /// What each queued signature check is about, by its tag (an event's seq; minus a checkpoint's size).
    var signatureSubjects: [Int64: String] = [:]
    /// The RFC 6962 tree recomputed from the stored bytes.
    public private(set) var tree = MerkleFrontier()
    public private(set) var checkpointsChecked = 0
    /// Which stored checkpoints' signatures are checked; every checkpoint's root is checked against the recomputed tree.
    public var checkpointSignatures = CheckpointSignatures.newest
    /// How many checkpoint signatures were checked (queued; `finish` reports the ones that fail).
    public private(set) var checkpointSignaturesChecked = 0
    /// The key the last checkpoint was checked with (`noteKey`).
    private var checkpointKey: (origin: String, publicKey: String, raw: [UInt8], verifier: NoteVerifierKey)?
    /// The newest checkpoint's signature check, held back until a newer checkpoint replaces it or `finish` runs.
    private var newestCheckpointSignature: (size: Int64, signature: [UInt8], message: [UInt8], publicKey: [UInt8])?
    /// The size of the newest checkpoint checked (0: none). Every event TrialGate appends is covered by a
    /// checkpoint signed in its own transaction, so events beyond it were written by someone else.
    public private(set) var coveredSize: Int64 = 0
    /// The events an import could have written just before the current one: a run of registrations, records and the
    /// stale-decision queries records open, by one actor; `rows` are the seqs of its registrations and records
    /// (`checkImportReceipt`).
    var importRun: (from: Int64, actor: String, rows: [Int64])?
    /// The SHA-256 of every file an import receipt names: the writer imports a file once.
    var importedFiles: [String: Int64] = [:]

    /// Which stored checkpoints' signatures an audit checks.
    ///
    /// Once the tree is recomputed from the stored bytes, an older checkpoint's root is checked by hashing alone, and
    /// the newest checkpoint's signature covers every event before it: a checkpoint commits to its root, and each
    /// older root is a prefix of the newest tree. An older signature proves only that the key in force then signed
    /// that same root, which the newest signature and the verified key history already establish. So an audit checks
    /// the newest checkpoint's signature, every checkpoint's origin, size and root, and that each names the key in
    /// force; `.every` also verifies every older signature, for a reviewer who will hand an older checkpoint note on.
    public enum CheckpointSignatures: Sendable {
        case newest
        case every
    }

    public init(checkpointSignatures: CheckpointSignatures = .newest) {
        self.checkpointSignatures = checkpointSignatures
    }

    /// Waits for the signature checks still running and reports their failures. Call once, after the last `feed`.
    /// - Parameter requireCoveredHead: report the first event no checkpoint covers (`head_uncovered`).
    public mutating func finish(requireCoveredHead: Bool = true) {
        if let c = newestCheckpointSignature {
            signatures.add(seq: -c.size, signature: c.signature, message: c.message, publicKey: c.publicKey)
            checkpointSignaturesChecked += 1
            newestCheckpointSignature = nil
        }
        if requireCoveredHead, eventsChecked > coveredSize {
            report(coveredSize + 1, "head_uncovered", coveredSize == 0
                   ? "the log has \(eventsChecked) events and no signed checkpoint"
                   : "events \(coveredSize + 1)…\(eventsChecked) are not covered by a signed checkpoint (the newest covers \(coveredSize)): written outside TrialGate")
        }
        reportDecisionChecks()
        for tag in Set(signatures.finish()).sorted() {
            if tag < 0 {
                report(-tag, "checkpoint_signature", "the checkpoint of size \(-tag) is not signed by the trial key then in force")
                continue
            }
            let subject = signatureSubjects[tag] ?? "record"
            let key = subject == "sign-off" || subject == "attestation" ? "the key the signer's account registers" : "the key in force"
            report(tag, "bad_signature", "the \(subject)'s Ed25519 signature does not verify with \(key)")
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
        /// A decision's signed bytes, taken from a canonical stored body (`CanonicalSlice`), and their hex SHA-256
        /// (what a sign-off names it by), both worked out where the event is prepared; nil otherwise.
        public let signedDecision: ArraySlice<UInt8>?
        let signedDecisionSHA256: String?

        public init(event: Event, bodyHash: String, canonical: Bool, leafHash: [UInt8], signedDecision: ArraySlice<UInt8>? = nil) {
            self.event = event
            self.bodyHash = bodyHash
            self.canonical = canonical
            self.leafHash = leafHash
            self.signedDecision = signedDecision
            signedDecisionSHA256 = signedDecision.map(Digest.sha256Hex)
        }

        /// The hex SHA-256 of a decision event's signed bytes: from the stored bytes, or encoded from the parsed
        /// decision when the body was not canonical.
        var decisionDigest: String { signedDecisionSHA256 ?? DecisionSummary.signedSHA256(of: event) }
    }

    /// Hashes the stored bytes and checks they are canonical. Pure; safe to run on any thread.
    public static func prepare(_ event: Event, storedBody: [UInt8], canonicalBody: [UInt8]? = nil) -> Prepared {
        prepare(event, storedBody: storedBody, isCanonical: (canonicalBody ?? event.canonicalBody) == storedBody)
    }

    /// Hashes the stored bytes of an event whose canonical form was checked while parsing (`Event.decode`).
    /// A canonical decision event's signed bytes are the bytes of its `payload.decision` as stored.
    public static func prepare(_ event: Event, storedBody: [UInt8], isCanonical: Bool) -> Prepared {
        let signed = isCanonical && event.type == .decisionIssued
            ? CanonicalSlice.range(of: ["payload", "decision"], in: storedBody).map { storedBody[$0] } : nil
        return Prepared(event: event, bodyHash: Digest.sha256Hex(storedBody), canonical: isCanonical, leafHash: Merkle.leafHash(storedBody),
                        signedDecision: signed)
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
            decisionDigests[event.seq] = prepared.decisionDigest
            checkDecision(event, before: state, signed: prepared.signedDecision)
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
        if event.type == .recordsImported { checkImportReceipt(event) }
        followImportRun(event)
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
        if event.type == .modelRegistered { checkModelDigests(event) }
    }

    /// Moves past an event the fold refused, without folding it: the chain, the tree and every later event's own
    /// checks (signatures above all) go on from there, instead of every later event being reported out of order.
    private mutating func passOver(_ event: Event) {
        if event.seq == state.size + 1 { state.setHead(size: event.seq, hash: event.hash) }
    }
    /// Checks a signed checkpoint of the first `tree.size` events: call it right after feeding event `size`.
    /// Its root must be the recomputed one and it must carry a signature line of the trial's key in force at that size;
    /// that signature is verified if this is the newest checkpoint the audit reaches, or for every checkpoint with
    /// `checkpointSignatures` `.every`.
    public mutating func checkCheckpoint(_ note: String) {
        let size = tree.size
        checkpointsChecked += 1
        coveredSize = size
        newestCheckpointSignature = nil
        guard let trial = state.trial, let key = state.signingKey, let (raw, verifier) = noteKey(origin: trial.logOrigin, publicKey: key.publicKey) else {
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
        if checkpointSignatures == .every {
            signatures.add(seq: -size, signature: sig.signature, message: Array(parsed.text.utf8), publicKey: raw)
            checkpointSignaturesChecked += 1
        } else {
            newestCheckpointSignature = (size, sig.signature, Array(parsed.text.utf8), raw)
        }
    }

    /// The note verifier key of the trial key in force (base64 `publicKey`), kept from one checkpoint to the next: a
    /// log written one command per transaction has a checkpoint per event, and the key changes only at a rotation.
    private mutating func noteKey(origin: String, publicKey: String) -> (raw: [UInt8], verifier: NoteVerifierKey)? {
        if let k = checkpointKey, k.origin == origin, k.publicKey == publicKey { return (k.raw, k.verifier) }
        guard let raw = Data(base64Encoded: publicKey).map(Array.init), let verifier = try? NoteVerifierKey(name: origin, publicKey: raw) else {
            return nil
        }
        checkpointKey = (origin, publicKey, raw, verifier)
        return (raw, verifier)
    }

    mutating func report(_ seq: Int64, _ code: String, _ message: String) {
        problems.append(AuditProblem(seq: seq, code: code, message: message))
    }
}
