import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    private func checkpointReply(_ c: EventStore.StoredCheckpoint) -> CheckpointReply {
        let parsed = try? SignedNote.parse(c.note)
        let checkpoint = parsed.flatMap { try? Checkpoint(text: $0.text) }
        let lines = WitnessSubmission.readableLines(c.note, ((try? store?.cosignatures(size: c.size)) ?? []).map(\.line))
        return CheckpointReply(size: c.size, issuedAt: c.issuedAt, note: c.note, origin: checkpoint?.origin, root: checkpoint.map { b64($0.root) },
                               cosignatures: lines.isEmpty ? nil : lines)
    }

    func checkpoint(size: Int64?) throws -> CheckpointReply {
        let store = try requireStore()
        let found = try size.map { try store.checkpoints(from: $0, through: $0).first } ?? store.latestCheckpoint()
        guard let found else {
            throw TrialGateError(.unknownCheckpoint, size.map { "no checkpoint of size \($0) was issued" } ?? "no checkpoint has been issued yet")
        }
        return checkpointReply(found)
    }

    /// The size a proof is made for when none is given: the newest checkpoint's, so it can be checked against a signed root.
    private func proofSize(_ size: Int64?, store: EventStore) throws -> Int64 {
        let head = try store.head().size
        let n = try size ?? store.latestCheckpoint()?.size ?? head
        guard n >= 1, n <= head else { throw TrialGateError(.invalidField, "tree size \(n) is not between 1 and the log size \(head)") }
        return n
    }

    func inclusionProof(seq: Int64, size: Int64?) throws -> InclusionProofReply {
        let store = try requireStore()
        let n = try proofSize(size, store: store)
        guard seq >= 1, seq <= n else { throw TrialGateError(.invalidField, "event \(seq) is not in the tree of size \(n)") }
        let proof = try Merkle.inclusionProof(index: seq - 1, size: n, store)
        return InclusionProofReply(seq: seq, index: seq - 1, size: n, leafHash: b64(try store.node(level: 0, index: seq - 1)),
                                   root: b64(try store.merkleRoot(size: n)), proof: proof.map { b64($0) },
                                   checkpoint: try store.checkpoints(from: n, through: n).first?.note)
    }

    func consistencyProof(from: Int64, to: Int64?) throws -> ConsistencyProofReply {
        let store = try requireStore()
        let n = try proofSize(to, store: store)
        guard from >= 1, from <= n else { throw TrialGateError(.invalidField, "first size \(from) is not between 1 and \(n)") }
        let proof = try Merkle.consistencyProof(from: from, to: n, store)
        return ConsistencyProofReply(from: from, to: n, root1: b64(try store.merkleRoot(size: from)), root2: b64(try store.merkleRoot(size: n)),
                                     proof: proof.map { b64($0) }, checkpoint1: try store.checkpoints(from: from, through: from).first?.note,
                                     checkpoint2: try store.checkpoints(from: n, through: n).first?.note)
    }
}
