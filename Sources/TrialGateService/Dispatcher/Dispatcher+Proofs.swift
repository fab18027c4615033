import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    func b64(_ bytes: [UInt8]) -> JSONValue { .string(Data(bytes).base64EncodedString()) }

    private func checkpointJSON(_ c: EventStore.StoredCheckpoint) -> JSONValue {
        let parsed = try? SignedNote.parse(c.note)
        let checkpoint = parsed.flatMap { try? Checkpoint(text: $0.text) }
        return ["size": .number(Double(c.size)), "issued_at": .string(c.issuedAt), "note": .string(c.note),
                "origin": .from(checkpoint?.origin), "root": checkpoint.map { b64($0.root) } ?? .null]
    }

    func checkpoint(size: Int64?) throws -> JSONValue {
        let store = try requireStore()
        let found = try size.map { try store.checkpoints(from: $0, through: $0).first } ?? store.latestCheckpoint()
        guard let found else {
            throw TrialGateError(.unknownCheckpoint, size.map { "no checkpoint of size \($0) was issued" } ?? "no checkpoint has been issued yet")
        }
        return checkpointJSON(found)
    }

    /// The size a proof is made for when none is given: the newest checkpoint's, so it can be checked against a signed root.
    private func proofSize(_ size: Int64?, store: EventStore) throws -> Int64 {
        let head = try store.head().size
        let n = try size ?? store.latestCheckpoint()?.size ?? head
        guard n >= 1, n <= head else { throw TrialGateError(.invalidField, "tree size \(n) is not between 1 and the log size \(head)") }
        return n
    }

    func inclusionProof(seq: Int64, size: Int64?) throws -> JSONValue {
        let store = try requireStore()
        let n = try proofSize(size, store: store)
        guard seq >= 1, seq <= n else { throw TrialGateError(.invalidField, "event \(seq) is not in the tree of size \(n)") }
        let proof = try Merkle.inclusionProof(index: seq - 1, size: n, store)
        var out: [String: JSONValue] = [
            "seq": .number(Double(seq)), "index": .number(Double(seq - 1)), "size": .number(Double(n)),
            "leaf_hash": b64(try store.node(level: 0, index: seq - 1)), "root": b64(try store.merkleRoot(size: n)),
            "proof": .array(proof.map { b64($0) }),
        ]
        if let c = try store.checkpoints(from: n, through: n).first { out["checkpoint"] = .string(c.note) }
        return .object(out)
    }

    func consistencyProof(from: Int64, to: Int64?) throws -> JSONValue {
        let store = try requireStore()
        let n = try proofSize(to, store: store)
        guard from >= 1, from <= n else { throw TrialGateError(.invalidField, "first size \(from) is not between 1 and \(n)") }
        let proof = try Merkle.consistencyProof(from: from, to: n, store)
        var out: [String: JSONValue] = [
            "from": .number(Double(from)), "to": .number(Double(n)),
            "root1": b64(try store.merkleRoot(size: from)), "root2": b64(try store.merkleRoot(size: n)),
            "proof": .array(proof.map { b64($0) }),
        ]
        if let c = try store.checkpoints(from: from, through: from).first { out["checkpoint1"] = .string(c.note) }
        if let c = try store.checkpoints(from: n, through: n).first { out["checkpoint2"] = .string(c.note) }
        return .object(out)
    }
}
