import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore
import TrialGateWitness

/// Three witnesses, a quorum of two: honest growth is cosigned by all; a rolled-back store, a forked one and a
/// rewritten tail are refused by every witness that saw the honest history, and their newest checkpoint has no quorum.
@Suite struct WitnessQuorumTests {
    /// Three witness folders that witness the fixtures' log (they all share key seed 7 and origin trialgate.test/T-1).
    static func witnesses(_ dir: TempDir, log: Fixture) throws -> [Witness] {
        let vkey = try NoteVerifierKey(name: "trialgate.test/T-1", publicKey: log.key.publicKey).vkey
        return try (1...3).map { i in
            let folder = dir.path + "/w\(i)"
            _ = try Witness.initialise(dir: folder, name: "witness.test/w\(i)")
            _ = try Witness.addLog(dir: folder, vkey: vkey)
            return try Witness(dir: folder, clock: { 1_790_000_000 })
        }
    }

    /// Submits `f`'s newest checkpoint to each witness; answers which cosigned and the error codes of the others.
    static func submit(_ f: Fixture, to witnesses: [Witness]) -> (cosigned: Int, refused: [String]) {
        var cosigned = 0, refused: [String] = []
        for w in witnesses {
            do {
                _ = try WitnessSubmission.submit(store: f.store, key: w.cosignerKey, transport: { body in
                    let r = w.addCheckpoint(body)
                    return (r.status, r.body)
                }, now: f.clock.now())
                cosigned += 1
            } catch {
                refused.append(TrialGateError(error).message)
            }
        }
        return (cosigned, refused)
    }

    static func quorum(_ f: Fixture, _ witnesses: [Witness]) throws -> Int {
        try WitnessSubmission.quorum(store: f.store, witnesses: witnesses.map(\.cosignerKey)).cosigned.count
    }

    static func ki67(_ f: Fixture, _ percent: Double) throws {
        try f.run(.record(kind: "ki67", candidate: "C-1", fields: ["percent": .number(percent), "specimen_date": "2026-01-05", "method": "manual_count"]))
    }

    @Test("honest growth is cosigned by all; a rollback, a fork and a rewritten tail are refused and miss the quorum")
    func threeWitnessesQuorumTwo() throws {
        let dir = TempDir()
        // Three stores with the same key and clock: the same first events, byte for byte.
        let honest = try Fixture(), forked = try Fixture(), rolledBack = try Fixture()
        for f in [honest, forked, rolledBack] { try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"])) }
        let witnesses = try Self.witnesses(dir, log: honest)
        #expect(Self.submit(honest, to: witnesses).cosigned == 3)
        try Self.ki67(honest, 8)
        #expect(Self.submit(honest, to: witnesses).cosigned == 3, "growth, with a proof from the size each cosigned")
        #expect(try Self.quorum(honest, witnesses) == 3)

        // A fork: the same prefix, then other events, as far as the honest log and beyond.
        try Self.ki67(forked, 25)
        try Self.ki67(forked, 26)
        let fork = Self.submit(forked, to: witnesses)
        #expect(fork.cosigned == 0, "\(fork.refused)")
        #expect(fork.refused.allSatisfy { $0.contains("HTTP 422") || $0.contains("HTTP 409") }, "\(fork.refused)")
        #expect(try Self.quorum(forked, witnesses) == 0)

        // A copy from before the honest log's last write: the log rolled back.
        let rollback = Self.submit(rolledBack, to: witnesses)
        #expect(rollback.cosigned == 0, "\(rollback.refused)")
        #expect(rollback.refused.allSatisfy { $0.contains("beyond this log's newest checkpoint") }, "\(rollback.refused)")
        #expect(try Self.quorum(rolledBack, witnesses) == 0)

        // The honest log goes on, and the witnesses with it.
        try Self.ki67(honest, 9)
        #expect(Self.submit(honest, to: witnesses).cosigned == 3)
        #expect(try Self.quorum(honest, witnesses) == 3)
        #expect(try honest.run(.checkpoint(size: nil), as: "regulator")["cosignatures"]?.arrayValue?.count == 3)
    }

    @Test("a quorum counts only cosignatures that verify with the given witness keys")
    func quorumCountsValidCosignaturesOnly() throws {
        let dir = TempDir()
        let f = try Fixture()
        let witnesses = try Self.witnesses(dir, log: f)
        #expect(Self.submit(f, to: Array(witnesses.prefix(2))).cosigned == 2)
        #expect(try Self.quorum(f, witnesses) == 2)
        let stranger = try CosignerKey(name: "witness.test/w1", publicKey: try TrialKey(seed: Array(repeating: 1, count: 32)).publicKey)
        #expect(try WitnessSubmission.quorum(store: f.store, witnesses: [stranger]).cosigned.isEmpty)
    }
}
