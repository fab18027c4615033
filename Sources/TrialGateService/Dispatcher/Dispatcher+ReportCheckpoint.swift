import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// The newest signed checkpoint at or before `last`, checked before a report shows it: its note's signature with
    /// the trial key in force at its size (the log's own key history), its origin, and its root against the root of
    /// the stored events at its size. Nil when no checkpoint was issued that early.
    func reportCheckpoint(through last: Int64) throws -> ReportReply.CheckpointStatus? {
        let store = try requireStore()
        guard last >= 1, let stored = try store.checkpointAtOrBefore(size: last) else { return nil }
        let text = (try? SignedNote.parse(stored.note)).flatMap { try? Checkpoint(text: $0.text) }
        func status(_ verified: Bool, _ detail: String) -> ReportReply.CheckpointStatus {
            .init(size: stored.size, root: text.map { Digest.hex($0.root) } ?? "", issuedAt: stored.issuedAt, verified: verified, detail: detail)
        }
        guard text != nil else { return status(false, "the stored checkpoint note cannot be read") }
        let base: LogState
        do { base = try Self.baseState(store, head: try store.head()) } catch { return status(false, TrialGateError(error).message) }
        guard let trial = base.trial else { return status(false, "the log names no trial") }
        // The key in force at the checkpoint's size, and the one before it when a rotation is the last event it covers.
        let keysThen = base.keys.filter { $0.seq <= stored.size }
        let inForce = keysThen.last?.seq == stored.size ? Array(keysThen.suffix(2)) : Array(keysThen.suffix(1))
        let verifiers = inForce.compactMap { k in
            Data(base64Encoded: k.publicKey).flatMap { try? NoteVerifierKey(name: trial.logOrigin, publicKey: Array($0)) }
        }
        let opened: Checkpoint
        do { opened = try Checkpoint.open(stored.note, keys: verifiers).checkpoint } catch {
            return status(false, "not signed by the trial key in force at \(stored.size) (\(inForce.map(\.keyID).joined(separator: " or ")))")
        }
        guard opened.origin == trial.logOrigin, opened.size == stored.size else {
            return status(false, "names origin \(opened.origin) and size \(opened.size), not \(trial.logOrigin) and \(stored.size)")
        }
        guard opened.root == (try store.merkleRoot(size: stored.size)) else {
            return status(false, "its root is not the root of the stored events 1…\(stored.size)")
        }
        let key = inForce.last.map { " \($0.keyID)" } ?? ""
        let covers = stored.size == last ? "" : "; events \(stored.size + 1)…\(last) are after it"
        return status(true, "signature verified with the trial key\(key); root recomputed from the stored events\(covers)")
    }
}
