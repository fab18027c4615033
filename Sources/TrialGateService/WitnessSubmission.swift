import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// The log's side of C2SP tlog-witness: submitting the newest checkpoint to a witness with a consistency proof from the
/// size it last cosigned, and keeping its cosignature beside the checkpoint; and counting a quorum of cosignatures.
public enum WitnessSubmission {
    /// Sends an `add-checkpoint` body to a witness and answers its HTTP status and body.
    public typealias Transport = (_ body: String) throws -> (status: Int, body: String)

    /// What one submission came to.
    public struct Outcome: Sendable, Equatable {
        public let witness: String
        public let size: Int64
        /// The size the proof was made from (the witness's latest cosigned size).
        public let oldSize: Int64
        /// The cosignature line kept, when the witness cosigned.
        public let line: String?
    }

    /// Submits the newest checkpoint of `store` to the witness `key` through `transport`. A 409 names the size the
    /// witness last cosigned; the checkpoint is sent once more with a proof from there.
    /// - Throws: `witness_refused` with the witness's status and answer (422: the log is not consistent with what the
    ///   witness saw; 409 again after resending from the size it named: it holds another checkpoint of one of the sizes), or `bad_note_signature` when the cosignature
    ///   returned does not verify with `key`.
    public static func submit(store: EventStore, key: CosignerKey, transport: Transport, now: UTCTimestamp) throws -> Outcome {
        guard let latest = try store.latestCheckpoint() else { throw TrialGateError(.unknownCheckpoint, "no checkpoint has been issued yet") }
        let known = try store.cosignedSizes()[key.name] ?? 0
        var old = min(known, latest.size)
        for attempt in 0..<2 {
            let proof = old > 0 && old < latest.size ? try Merkle.consistencyProof(from: old, to: latest.size, store) : []
            let body = "old \(old)\n" + proof.map { Data($0).base64EncodedString() + "\n" }.joined() + "\n" + latest.note
            let (status, answer) = try transport(body)
            switch status {
            case 200:
                // The first answer line that is a cosignature verifying with the witness's key, and the time it states.
                let cosigned = answer.split(separator: "\n").lazy.map { String($0) + "\n" }.compactMap { line in
                    (try? Cosignature.verified(latest.note + line, cosigners: [key]))?.first.map { (line, $0.timestamp) }
                }.first
                guard let (line, time) = cosigned else {
                    throw TrialGateError(.badNoteSignature, "\(key.name) answered 200 without a cosignature that verifies with its key")
                }
                // A time ahead of this log's clock would stay "recent" for `--max-age` long after it was made.
                let clock = UInt64(max(0, now.millisecondsSinceEpoch / 1000))
                guard time <= clock + Cosignature.allowedClockSkew else {
                    throw TrialGateError(.witnessRefused, "\(key.name) cosigned with the time \(time), \(time - clock) s ahead of this log's clock: not kept (its clock, or this one, is wrong)")
                }
                try store.addCosignature(size: latest.size, witness: key.name, line: line, receivedAt: now)
                return Outcome(witness: key.name, size: latest.size, oldSize: old, line: line)
            case 409 where attempt == 0:
                guard let size = Int64(answer.trimmingCharacters(in: .whitespacesAndNewlines)), size >= 0 else {
                    throw try refused(store, latest.size, key, status, answer, now, "\(key.name) answered 409 without a tree size: \(shown(answer, 80))")
                }
                guard size <= latest.size else {
                    throw try refused(store, latest.size, key, status, answer, now,
                                      "\(key.name) has cosigned size \(size), beyond this log's newest checkpoint (\(latest.size)): this store is behind what the witness saw (a rollback?)")
                }
                // A witness never goes back: one that names less than it cosigned of this log before lost its state (or
                // is another witness under its key), and would cosign a rolled-back copy.
                guard size >= known else {
                    throw try refused(store, latest.size, key, status, answer, now,
                                      "\(key.name) says it holds size \(size) of this log, but it cosigned size \(known) before: the witness lost its state, or is not the one that cosigned; not resubmitted")
                }
                old = size
            case 409:
                // Sent from the size it named and refused again: at that size, or at this one, the witness holds
                // another root than this store (a fork), or another client moved it meanwhile.
                throw try refused(store, latest.size, key, status, answer, now,
                                  "\(key.name) answered 409 again (its size: \(shown(answer, 20))) to a proof from \(old): it holds another checkpoint of this size or of \(old) than this store (a fork?)")
            default:
                throw try refused(store, latest.size, key, status, answer, now,
                                  "\(key.name) refused the checkpoint of size \(latest.size) (HTTP \(status)): \(shown(answer, 200))")
            }
        }
        throw TrialGateError(.internal, "unreachable: two attempts end in a return or a throw")
    }

    /// A witness's answer as it may be shown on a terminal or in a log: cut, and quoted with every control character
    /// escaped, so that it cannot move the cursor, retitle the window or start a line of its own.
    public static func shown(_ answer: String, _ limit: Int) -> String {
        LogText.quoted(String(answer.trimmingCharacters(in: .whitespacesAndNewlines).prefix(limit)))
    }

    /// Keeps a witness's refusal in the store (`witness_refusals`) and answers the error to throw.
    private static func refused(_ store: EventStore, _ size: Int64, _ key: CosignerKey, _ status: Int, _ answer: String, _ now: UTCTimestamp,
                                _ message: String) throws -> TrialGateError {
        // A 5xx or a proxy's page is the witness being unwell, not a statement about this log: it is not kept.
        if (400..<500).contains(status) {
            try store.addWitnessRefusal(size: size, witness: key.name, status: status, answer: answer, receivedAt: now)
        }
        return TrialGateError(.witnessRefused, message)
    }

    /// The cosignature lines kept for a checkpoint that read as signed-note signature lines after `note`; a row put
    /// into the store by hand that does not (a forged or broken line) is left out here, so that it cannot make the
    /// checkpoint unreadable, and a line that reads but does not verify is still reported by the quorum.
    public static func readableLines(_ note: String, _ lines: [String]) -> [String] {
        var kept: [String] = []
        for line in lines where (try? SignedNote.parse(note + kept.joined() + line)) != nil { kept.append(line) }
        return kept
    }

    /// Whether the newest checkpoint, with the newest cosignature of each witness kept for it, carries a quorum.
    /// - Returns: the quorum's verdict and the newest checkpoint's size.
    public static func quorum(store: EventStore, witnesses: [CosignerKey], quorum: Int, maxAge: UInt64?, now: UInt64) throws -> (size: Int64, verdict: WitnessQuorum) {
        guard let latest = try store.latestCheckpoint() else { throw TrialGateError(.unknownCheckpoint, "no checkpoint has been issued yet") }
        let lines = readableLines(latest.note, try store.cosignatures(size: latest.size).map(\.line)).joined()
        return (latest.size, try WitnessQuorum(note: latest.note + lines, witnesses: witnesses, quorum: quorum, maxAge: maxAge, now: now))
    }
}
