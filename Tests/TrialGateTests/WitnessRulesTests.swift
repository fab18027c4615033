import Foundation
import Testing
import TrialGateAudit
import TrialGateCore

/// C2SP tlog-cosignature v1 (Ed25519) and the add-checkpoint rules of C2SP tlog-witness, the core of a witness.
@Suite struct WitnessRulesTests {
    @Test("a cosignature made from the spec's message format verifies, and TrialGate signs the same bytes")
    func cosignatureVector() throws {
        let note = try fixtureText("cosignature/tree8-cosigned.note")
        let key = try CosignerKey(vkey: try fixtureText("cosignature/witness-w1.vkey"))
        let seed = try #require(Digest.bytes(hex: try fixtureText("cosignature/witness-w1.seed").trimmingCharacters(in: .whitespacesAndNewlines)))
        let verified = try Cosignature.verified(note, cosigners: [key])
        #expect(verified == [Cosignature.Verified(cosigner: key, timestamp: 1_679_315_147)])
        // The log's own signature is not a cosignature: only the cosigner's line counts.
        let logNote = try fixtureText("notes/derived-checkpoint-rfc6962-tree8.note")
        let text = String(logNote[..<logNote.range(of: "\n\n")!.lowerBound]) + "\n"
        let line = try Cosignature.line(checkpointText: text, timestamp: 1_679_315_147, name: key.name, key: try TrialKey(seed: seed))
        #expect(logNote + line == note, "Ed25519 is deterministic: the same key, time and checkpoint give the same line")
        #expect(key.vkey + "\n" == (try fixtureText("cosignature/witness-w1.vkey")))
    }

    @Test("a cosignature does not carry over to another time, another checkpoint or another cosigner key")
    func cosignatureBinds() throws {
        let note = try fixtureText("cosignature/tree8-cosigned.note")
        let key = try CosignerKey(vkey: try fixtureText("cosignature/witness-w1.vkey"))
        let lines = note.split(separator: "\n", omittingEmptySubsequences: false)
        let cosig = try #require(lines.first { $0.hasPrefix("\u{2014} witness.example/w1 ") })
        var raw = Array(Data(base64Encoded: String(cosig.split(separator: " ")[2]))!)
        raw[11] ^= 1  // the timestamp's last byte
        let retimed = note.replacingOccurrences(of: String(cosig), with: "\u{2014} witness.example/w1 \(Data(raw).base64EncodedString())")
        #expect(try Cosignature.verified(retimed, cosigners: [key]).isEmpty)
        let otherSize = note.replacingOccurrences(of: "\n8\n", with: "\n9\n")
        #expect(try Cosignature.verified(otherSize, cosigners: [key]).isEmpty)
        let stranger = try CosignerKey(name: "witness.example/w1", publicKey: try TrialKey(seed: Array(repeating: 9, count: 32)).publicKey)
        #expect(try Cosignature.verified(note, cosigners: [stranger]).isEmpty)
        #expect(throws: TrialGateError.self) { try CosignerKey(vkey: "witness.example/w1+5557cb17+ASKfgnhVeD88R1nEzC2i7myWmakhYvjDPvdQH3iwI9MC") }
    }

    /// A log of `count` leaves, its signing key, and checkpoints of it with consistency proofs.
    struct Log {
        let origin = "trialgate.test/W-1"
        let signer: NoteSigner
        var tree = MerkleMemoryTree()

        init(leaves: [String], seed: UInt8 = 3) throws {
            signer = try NoteSigner(name: origin, key: try TrialKey(seed: Array(repeating: seed, count: 32)))
            for l in leaves { tree.append(leafHash: Merkle.leafHash(Array(l.utf8))) }
        }

        func note(size: Int64) throws -> String {
            try Checkpoint(origin: origin, size: size, root: try Merkle.root(size: size, tree)).signed(by: [signer])
        }

        func request(old: Int64, size: Int64, proofFrom: Int64? = nil) throws -> String {
            let from = proofFrom ?? old
            let proof = from > 0 && from < size ? try Merkle.consistencyProof(from: from, to: size, tree) : []
            return "old \(old)\n" + proof.map { Data($0).base64EncodedString() + "\n" }.joined() + "\n" + (try note(size: size))
        }

        var witnessed: WitnessRules.Log { WitnessRules.Log(origin: origin, keys: [signer.verifier]) }
    }

    @Test("a witness cosigns honest growth and refuses a rollback, a fork and a rewritten tail with the spec's status codes")
    func addCheckpointStatuses() throws {
        let honest = try Log(leaves: (1...12).map { "event \($0)" })
        // The same first 5 events, then others: a fork, or a tail rewritten after the witness saw 8.
        let forked = try Log(leaves: (1...5).map { "event \($0)" } + (6...12).map { "forged \($0)" })
        var latest: [String: WitnessRules.Cosigned] = [:]
        func submit(_ body: String, logs: [WitnessRules.Log]? = nil) -> WitnessRules.Outcome {
            let outcome = WitnessRules.decide(body, logs: logs ?? [honest.witnessed], latest: latest)
            if case .cosign(let c, _) = outcome { latest[c.origin] = .init(size: c.size, root: c.root) }
            return outcome
        }
        #expect(submit(try honest.request(old: 0, size: 3)).status == 200, "a first checkpoint, from size 0")
        #expect(submit(try honest.request(old: 0, size: 5)) == .conflict(latestSize: 3), "409 names the latest cosigned size")
        #expect(submit(try honest.request(old: 3, size: 8)).status == 200)
        #expect(submit(try honest.request(old: 8, size: 8)).status == 200, "the same checkpoint again")
        #expect(submit(try forked.request(old: 8, size: 8)) == .conflict(latestSize: 8), "same size, another root")
        #expect(submit(try forked.request(old: 8, size: 12)).status == 422, "a fork past what the witness saw")
        #expect(submit(try honest.request(old: 8, size: 5)).status == 400, "rolled back: the old size is above the checkpoint's")
        #expect(submit(try honest.request(old: 5, size: 5)) == .conflict(latestSize: 8), "rolled back, claiming to come from there")
        let other = try Log(leaves: (1...12).map { "event \($0)" }, seed: 4)
        #expect(submit(try other.request(old: 8, size: 12)).status == 403, "signed by a key the witness does not trust")
        #expect(submit(try honest.request(old: 8, size: 12), logs: []).status == 404, "an origin the witness does not witness")
        #expect(submit("old 8\nnot base64\n\n" + (try honest.note(size: 12))).status == 400)
        #expect(submit("old 8\n" + String(repeating: Data(repeating: 0, count: 32).base64EncodedString() + "\n", count: 64) + "\n" + (try honest.note(size: 12))).status == 400)
        #expect(latest[honest.origin] == .init(size: 8, root: try Merkle.root(size: 8, honest.tree)), "nothing refused changed the state")
        #expect(submit(try honest.request(old: 8, size: 12)).status == 200)
        #expect(latest[honest.origin]?.size == 12)
    }
}
