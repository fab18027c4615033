import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// `verify`: of the whole log, or, with a checkpoint `note`, that the log extends it.
    /// - Parameter everyCheckpoint: verify every stored checkpoint's signature, not only the newest's
    ///   (`LogAuditor.CheckpointSignatures`).
    func verify(checkpoint note: String?, vkey: String?, everyCheckpoint: Bool = false) throws -> VerifyReply {
        let signatures: LogAuditor.CheckpointSignatures = everyCheckpoint ? .every : .newest
        guard let note else { return try verify(vkey: vkey, checkpointSignatures: signatures) }
        return try verify(againstCheckpoint: note, vkey: vkey, checkpointSignatures: signatures)
    }

    /// Checks the whole log; with `vkey` (a C2SP verifier key obtained out of band), also that the log's key
    /// history includes that key, so a log rebuilt under another key fails.
    func verify(vkey: String?, checkpointSignatures: LogAuditor.CheckpointSignatures = .newest) throws -> VerifyReply {
        let pinned = try vkey.map(Self.parseVKey)
        let report = try audit(checkpointSignatures: checkpointSignatures)
        guard let pinned else { return report.verifyResult }
        var problems = report.problems
        if let problem = Self.untrustedKeyProblem(pinned, state: report.auditor.state) { problems.insert(problem, at: 0) }
        let checked = AuditReport(auditor: report.auditor, problems: problems, structural: report.structural, head: report.head,
                                  reportSnapshotsChecked: report.reportSnapshotsChecked)
        var reply = checked.verifyResult
        reply.vkeyInHistory = !problems.contains { $0.code == "untrusted_key" }
        return reply
    }

    /// A vkey line, or `invalid_field` naming what is wrong with it.
    static func parseVKey(_ text: String) throws -> NoteVerifierKey {
        do { return try NoteVerifierKey(vkey: text.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
            throw TrialGateError(.invalidField, "vkey: \"\(text.prefix(80))\" is not a C2SP verifier key (name+keyid+base64 key): \(error)")
        }
    }

    /// `untrusted_key` when `pinned` is not a key of the log's history (a log rebuilt under another key).
    static func untrustedKeyProblem(_ pinned: NoteVerifierKey, state: LogState) -> AuditProblem? {
        guard let trial = state.trial else {
            return AuditProblem(seq: 1, code: "untrusted_key", message: "the log has no trial key to compare the given vkey with")
        }
        let history = state.keys.compactMap { k in
            Data(base64Encoded: k.publicKey).flatMap { try? NoteVerifierKey(name: trial.logOrigin, publicKey: Array($0)) }
        }
        if history.contains(pinned) { return nil }
        return AuditProblem(seq: 1, code: "untrusted_key",
                            message: "the given vkey is not a key of this log's history (\(history.map(\.vkey).joined(separator: ", ")))")
    }

    /// Proves the log extends a checkpoint saved earlier: the checkpoint must be signed by a trusted key (the
    /// given vkey, or a key of the log's own history), name this log, and have the root that the events as
    /// stored give at its size. A shorter log was truncated or rolled back; another root is a fork.
    func verify(againstCheckpoint note: String, vkey: String?, checkpointSignatures: LogAuditor.CheckpointSignatures = .newest) throws -> VerifyReply {
        let store = try requireStore()
        let parsedCheckpoint: Checkpoint
        do { parsedCheckpoint = try Checkpoint(text: try SignedNote.parse(note).text) } catch {
            throw TrialGateError(.invalidField, "the checkpoint is not a signed tlog-checkpoint note: \(error)")
        }
        let pinned = try vkey.map(Self.parseVKey)
        let report = try audit(rootAt: parsedCheckpoint.size, checkpointSignatures: checkpointSignatures)
        var problems = report.problems
        let state = report.auditor.state
        var signedBy: String?
        if let trial = state.trial {
            let history = state.keys.compactMap { k in
                Data(base64Encoded: k.publicKey).flatMap { try? NoteVerifierKey(name: trial.logOrigin, publicKey: Array($0)) }
            }
            do {
                signedBy = try SignedNote.open(note, keys: pinned.map { [$0] } ?? history).signedBy.first?.vkey
            } catch {
                problems.append(AuditProblem(seq: parsedCheckpoint.size, code: "checkpoint_signature",
                                             message: "the saved checkpoint is not signed by \(pinned == nil ? "any key of this log's key history" : "the given vkey"): \(error)"))
            }
            // A pinned key must be in the log's own history, or the log is signed by someone else (a swapped key).
            if let pinned, let problem = Self.untrustedKeyProblem(pinned, state: state) { problems.append(problem) }
            if parsedCheckpoint.origin != trial.logOrigin {
                problems.append(AuditProblem(seq: parsedCheckpoint.size, code: "checkpoint_origin",
                                             message: "the checkpoint is of log \(parsedCheckpoint.origin), this log is \(trial.logOrigin)"))
            }
        }
        let size = report.auditor.tree.size
        var consistency: [String] = []
        if parsedCheckpoint.size > size {
            problems.append(AuditProblem(seq: size, code: "log_truncated",
                                         message: "the checkpoint covers \(parsedCheckpoint.size) events but the log has \(size): it was truncated or rolled back to an older copy"))
        } else if report.rootAtRequested != parsedCheckpoint.root {
            problems.append(AuditProblem(seq: parsedCheckpoint.size, code: "log_forked",
                                         message: "the first \(parsedCheckpoint.size) events do not have the root the checkpoint signed: the log was rewritten"))
        } else if parsedCheckpoint.size >= 1 {
            // The proof a witness would check, from the stored tree, verified against the recomputed roots.
            let proof = try Merkle.consistencyProof(from: parsedCheckpoint.size, to: size, store)
            do {
                try Merkle.verifyConsistency(size1: parsedCheckpoint.size, size2: size, root1: parsedCheckpoint.root,
                                             root2: report.auditor.tree.root, proof: proof)
                consistency = proof.map { b64($0) }
            } catch {
                problems.append(AuditProblem(seq: size, code: "tree_mismatch", message: "the stored tree gives no valid consistency proof: \(error)"))
            }
        }
        problems.sort { $0.seq < $1.seq }
        let checked = AuditReport(auditor: report.auditor, problems: problems, structural: report.structural, head: report.head,
                                  reportSnapshotsChecked: report.reportSnapshotsChecked)
        var reply = checked.verifyResult
        reply.checkpoint = VerifyReply.CheckpointCheck(
            size: parsedCheckpoint.size, root: b64(parsedCheckpoint.root), signedBy: signedBy,
            extends: !problems.contains { ["log_truncated", "log_forked", "checkpoint_signature", "checkpoint_origin", "untrusted_key"].contains($0.code) },
            consistencyProof: consistency)
        return reply
    }
}
