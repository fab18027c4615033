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
    static func witnesses(_ dir: TempDir, log: Fixture, clock: WitnessClock = WitnessClock()) throws -> [Witness] {
        let vkey = try NoteVerifierKey(name: "trialgate.test/T-1", publicKey: log.key.publicKey).vkey
        return try (1...3).map { i in
            let folder = dir.path + "/w\(i)"
            _ = try Witness.initialise(dir: folder, name: "witness.test/w\(i)")
            _ = try Witness.addLog(dir: folder, vkey: vkey)
            return try Witness(dir: folder, clock: { clock.now })
        }
    }

    /// The witnesses' clock, moved by hand.
    final class WitnessClock: @unchecked Sendable {
        private let lock = NSLock()
        /// Starts at the fixtures' clock (2026-07-01T09:00Z): a log refuses a cosignature dated ahead of its own clock.
        private var time: UInt64 = 1_782_896_400
        var now: UInt64 { lock.withLock { time } }
        func advance(_ seconds: UInt64) { lock.withLock { time += seconds } }
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

    static func quorum(_ f: Fixture, _ witnesses: [Witness], maxAge: UInt64? = nil, now: UInt64 = 1_782_896_400) throws -> Int {
        try WitnessSubmission.quorum(store: f.store, witnesses: witnesses.map(\.cosignerKey), quorum: 2, maxAge: maxAge, now: now).verdict.counted.count
    }

    static func ki67(_ f: Fixture, _ percent: Double) throws {
        try f.run(.record(kind: "ki67", candidate: "C-1", fields: ["percent": .number(percent), "specimen_date": "2026-01-05", "method": "manual_count"]))
    }

    @Test("honest growth is cosigned by all; a rollback, a fork and a rewritten tail are refused and miss the quorum")
    func threeWitnessesQuorumTwo() throws {
        let dir = TempDir()
        // Three stores with the same key and clock: the same first events, byte for byte.
        let honest = try Fixture(), forked = try Fixture(), rolledBack = try Fixture(), rewritten = try Fixture()
        for f in [honest, forked, rolledBack, rewritten] { try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"])) }
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
        // Each refusal is kept in the refused store with the witness's answer (its size, for a 409).
        let refusals = try rolledBack.store.witnessRefusals()
        let honestSize = try honest.size()
        #expect(refusals.count == 3 && refusals.allSatisfy { $0.status == 409 && $0.answer.hasPrefix("\(honestSize)") }, "\(refusals)")

        // A rewritten tail: the same size as the honest log, its last event replaced (re-chained and re-signed).
        try Self.ki67(rewritten, 80)
        #expect(try rewritten.size() == honestSize)
        let rewrite = Self.submit(rewritten, to: witnesses)
        #expect(rewrite.cosigned == 0, "\(rewrite.refused)")
        #expect(rewrite.refused.allSatisfy { $0.contains("answered 409 again") }, "\(rewrite.refused)")
        #expect(try Self.quorum(rewritten, witnesses) == 0)

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
        #expect(try WitnessSubmission.quorum(store: f.store, witnesses: [stranger], quorum: 1, maxAge: nil, now: 0).verdict.counted.isEmpty)
    }

    @Test("a copy rolled back to a checkpoint the witnesses once cosigned has only old cosignatures, and cannot get new ones")
    func rolledBackCopyIsStale() throws {
        let dir = TempDir()
        let clock = WitnessClock()
        // Two stores with the same first events, byte for byte: the copy is the honest log as it was at size n.
        let honest = try Fixture(), copy = try Fixture()
        for f in [honest, copy] { try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"])) }
        let witnesses = try Self.witnesses(dir, log: honest, clock: clock)
        #expect(Self.submit(copy, to: witnesses).cosigned == 3)
        #expect(Self.submit(honest, to: witnesses).cosigned == 3, "the same checkpoint, cosigned again")
        let then = clock.now
        clock.advance(3600)
        honest.clock.advance(seconds: 3600)
        try Self.ki67(honest, 8)
        #expect(Self.submit(honest, to: witnesses).cosigned == 3)
        // Both carry a quorum; only the honest one's is recent.
        #expect(try Self.quorum(copy, witnesses, now: clock.now) == 3)
        #expect(try Self.quorum(copy, witnesses, maxAge: 1800, now: clock.now) == 0)
        #expect(try Self.quorum(honest, witnesses, maxAge: 1800, now: clock.now) == 3)
        let (_, verdict) = try WitnessSubmission.quorum(store: copy.store, witnesses: witnesses.map(\.cosignerKey), quorum: 2, maxAge: 1800, now: clock.now)
        #expect(!verdict.met && verdict.stale.count == 3 && verdict.stale.values.allSatisfy { $0 == then })
        #expect(verdict.summary(size: 2).contains("too old"), "\(verdict.summary(size: 2))")
        // A quiet honest log resubmits and is cosigned again with a newer time; the copy is refused.
        clock.advance(3600)
        honest.clock.advance(seconds: 7200)
        copy.clock.advance(seconds: 7200)
        #expect(Self.submit(honest, to: witnesses).cosigned == 3)
        #expect(try Self.quorum(honest, witnesses, maxAge: 1800, now: clock.now) == 3)
        let copyAgain = Self.submit(copy, to: witnesses)
        #expect(copyAgain.cosigned == 0 && copyAgain.refused.allSatisfy { $0.contains("a rollback") }, "\(copyAgain.refused)")
        #expect(try Self.quorum(copy, witnesses, maxAge: 1800, now: clock.now) == 0)
    }

    @Test("a bundle carries the newest checkpoint's cosignatures; verify --bundle counts the verifier's quorum, or the manifest's, and names a forged line")
    func bundleQuorum() throws {
        let dir = TempDir()
        let f = try Fixture()
        try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))
        let witnesses = try Self.witnesses(dir, log: f)
        #expect(Self.submit(f, to: Array(witnesses.prefix(2))).cosigned == 2)
        let keys = witnesses.map(\.cosignerKey)
        let bundle = dir.path + "/bundle"
        _ = try f.run(.exportBundle(directory: bundle, witnesses: keys.map(\.vkey), quorum: 2), as: "admin")
        let now: UInt64 = 1_782_896_500
        func verify(_ keys: [CosignerKey], quorum: Int?, maxAge: UInt64? = nil) -> BundleVerification {
            BundleVerifier.verify(directory: bundle, witnesses: .init(witnesses: keys, quorum: quorum, maxAge: maxAge, now: now))
        }
        let given = verify(keys, quorum: 2)
        #expect(given.valid, "\(given.problems)")
        #expect(given.witnessed?.contains("cosigned by witness.test/w1, witness.test/w2 (quorum 2)") == true, "\(given.witnessed ?? "")")
        #expect(verify(keys, quorum: 3).problems.map(\.code) == ["witness_quorum"])
        #expect(verify(keys, quorum: 2, maxAge: 60).problems.map(\.code) == ["witness_quorum"], "cosigned 100 s before now")
        // Without keys of its own, the verifier counts the manifest's, and says whose statement that is.
        let declared = BundleVerifier.verify(directory: bundle)
        #expect(declared.valid && declared.witnessed?.contains("named by the bundle's own manifest") == true, "\(declared.witnessed ?? "") \(declared.problems)")

        // A cosignature line altered by whoever holds the bundle (the manifest's digest updated too): named, not ignored.
        let notePath = bundle + "/checkpoint.note"
        var note = try String(contentsOfFile: notePath, encoding: .utf8)
        let line = try #require(note.split(separator: "\n").last(where: { $0.hasPrefix("\u{2014} witness.test/w2 ") }))
        var bytes = try #require(Data(base64Encoded: String(line.split(separator: " ").last!)))
        bytes[bytes.count - 1] ^= 1
        note = note.replacingOccurrences(of: String(line), with: "\u{2014} witness.test/w2 " + bytes.base64EncodedString())
        try note.write(toFile: notePath, atomically: true, encoding: .utf8)
        var manifest = try #require(try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: bundle + "/manifest.json")))).objectValue)
        var files = try #require(manifest["files"]?.objectValue)
        files["checkpoint.note"] = .string(Digest.sha256Hex(Array(note.utf8)))
        manifest["files"] = .object(files)
        try Data(CanonicalJSON.encode(.object(manifest)) + [0x0A]).write(to: URL(fileURLWithPath: bundle + "/manifest.json"))
        let forged = verify(keys, quorum: 1)
        #expect(Set(forged.problems.map(\.code)) == ["cosignature_invalid"], "\(forged.problems)")
    }

    @Test("a store of schema 5 keeps its cosignatures through 0006, which keeps every later one and refuses to change or remove any")
    func migrationKeepsCosignatures() throws {
        let dir = TempDir()
        let f = try Fixture(schemaVersion: 5)
        try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))
        let clock = WitnessClock()
        let witnesses = try Self.witnesses(dir, log: f, clock: clock)
        #expect(Self.submit(f, to: witnesses).cosigned == 3)
        // Read as schema 5 has them (this build's reader expects 0006's columns).
        let size = try f.size()
        let (_, before) = try shell(["sqlite3", f.storePath, "SELECT size, witness, hex(line), received_at FROM cosignatures ORDER BY witness"])
        #expect(before.split(separator: "\n").count == 3)
        f.store.close()
        let upgraded = try EventStore.open(path: f.storePath)
        let after = try upgraded.cosignatures(size: size).map { "\($0.size)|\($0.witness)|\(Digest.hex(Array($0.line.utf8)).uppercased())|\($0.receivedAt)" }
        #expect(after.joined(separator: "\n") + "\n" == before)
        // The same checkpoint cosigned again later: both kept, the newest shown.
        clock.advance(60)
        let again = try WitnessSubmission.submit(store: upgraded, key: witnesses[0].cosignerKey, transport: { body in
            let r = witnesses[0].addCheckpoint(body)
            return (r.status, r.body)
        }, now: f.clock.now())
        #expect(try upgraded.cosignatures(size: size).first { $0.witness == "witness.test/w1" }?.line == again.line)
        upgraded.close()
        let (_, rows) = try shell(["sqlite3", f.storePath, "PRAGMA user_version; SELECT count(*) FROM cosignatures;"])
        #expect(rows.split(separator: "\n") == ["6", "4"])
        for sql in ["UPDATE cosignatures SET witness = 'x'", "DELETE FROM cosignatures", "INSERT INTO witness_refusals (size, witness, status, answer, received_at) VALUES (1, 'w', 409, '1', '2026-01-01T00:00:00.000Z'); DELETE FROM witness_refusals"] {
            let (status, out) = try shell(["sqlite3", f.storePath, sql])
            #expect(status != 0 && out.contains("not allowed"), "\(sql): \(out)")
        }
    }
}
