import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore
import TrialGateWitness

/// What an attacker's review of the witnesses found, each as the test that shows it is caught: a witness that lost
/// its state, a cosignature dated ahead, one key under two names, a broken row in the store, a bundle manifest that
/// does not hold together.
@Suite struct WitnessHardeningTests {
    typealias Q = WitnessQuorumTests

    static func send(_ f: Fixture, _ w: Witness) throws -> WitnessSubmission.Outcome {
        try WitnessSubmission.submit(store: f.store, key: w.cosignerKey, transport: { body in
            let r = w.addCheckpoint(body)
            return (r.status, r.body)
        }, now: f.clock.now())
    }

    @Test("a witness state whose held root does not read is refused at start, not taken as a log never seen")
    func unreadableHeldRoot() throws {
        let dir = TempDir()
        let f = try Fixture()
        let w = try Q.witnesses(dir, log: f)[0]
        _ = try Self.send(f, w)
        let path = w.dir + "/witness.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let root = try #require(w.latest["trialgate.test/T-1"]?.root)
        try text.replacingOccurrences(of: root, with: "corrupted==").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TrialGateError.self) { try Witness(dir: w.dir) }
    }

    @Test("a witness that names less than it cosigned before lost its state: the log refuses to resubmit, and keeps the refusal")
    func witnessThatWentBack() throws {
        let dir = TempDir()
        let f = try Fixture()
        try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))
        let w = try Q.witnesses(dir, log: f)[0]
        _ = try Self.send(f, w)
        // Its state restored from before it ever saw this log.
        var state = try WitnessState.load(dir: w.dir)
        state.latest = [:]
        try state.save(dir: w.dir)
        let restored = try Witness(dir: w.dir)
        try f.run(.register(candidate: "C-2", fields: ["site": "SITE-01"]))
        #expect(throws: TrialGateError.self) { _ = try Self.send(f, restored) }
        do { _ = try Self.send(f, restored) } catch {
            #expect(TrialGateError(error).message.contains("lost its state"), "\(error)")
        }
        #expect(restored.latest.isEmpty, "nothing was cosigned from 0")
        #expect(try f.store.witnessRefusals().contains { $0.status == 409 && $0.answer.hasPrefix("0") })
    }

    @Test("a cosignature dated ahead of the log's clock is not kept, and under --max-age a verifier does not count one")
    func cosignatureFromTheFuture() throws {
        let dir = TempDir()
        let f = try Fixture()
        let clock = Q.WitnessClock()
        let w = try Q.witnesses(dir, log: f, clock: clock)[0]
        let logNow = UInt64(f.clock.now().millisecondsSinceEpoch / 1000)
        clock.advance(logNow + 86_400 - clock.now)
        #expect(throws: TrialGateError.self) { _ = try Self.send(f, w) }
        #expect(try f.store.cosignedSizes().isEmpty)
        // A line dated a day ahead, in a note (as a bundle would carry it).
        let latest = try #require(try f.store.latestCheckpoint())
        let text = try SignedNote.parse(latest.note).text
        let key = try TrialKey.load(path: w.dir + "/witness.key")
        let ahead = try Cosignature.line(checkpointText: text, timestamp: logNow + 86_400, name: w.name, key: key)
        let verdict = try WitnessQuorum(note: latest.note + ahead, witnesses: [w.cosignerKey], quorum: 1, maxAge: 3600, now: logNow)
        #expect(!verdict.met && verdict.future.count == 1 && verdict.summary(size: latest.size).contains("dated ahead"))
        let skew = try Cosignature.line(checkpointText: text, timestamp: logNow + 300, name: w.name, key: key)
        #expect(try WitnessQuorum(note: latest.note + skew, witnesses: [w.cosignerKey], quorum: 1, maxAge: 3600, now: logNow).met)
        let huge = try Cosignature.line(checkpointText: text, timestamp: UInt64(Int64.max), name: w.name, key: key)
        #expect(try WitnessQuorum(note: latest.note + huge, witnesses: [w.cosignerKey], quorum: 1, maxAge: 3600, now: logNow).summary(size: 1).contains("POSIX time"))
    }

    @Test("one key under two names is one witness: refused as a second witness")
    func oneKeyTwoNames() throws {
        let key = try TrialKey(seed: Array(repeating: 3, count: 32))
        let a = try CosignerKey(name: "witness.test/a", publicKey: key.publicKey)
        let a2 = try CosignerKey(name: "witness.test/a2", publicKey: key.publicKey)
        #expect(throws: TrialGateError.self) { _ = try CosignerKey.distinct([a, a2]) }
        #expect(throws: TrialGateError.self) { _ = try CosignerKey.distinct([a, a]) }
        #expect(throws: TrialGateError.self) { _ = try BundleManifest.WitnessRequirement(witnesses: [a.vkey, a2.vkey], quorum: 2) }
    }

    @Test("a row put into the cosignatures table by hand that is not a signature line leaves the checkpoint readable")
    func brokenCosignatureRow() throws {
        let dir = TempDir()
        let f = try Fixture()
        let w = try Q.witnesses(dir, log: f)[0]
        _ = try Self.send(f, w)
        let size = try f.size()
        let (status, out) = try shell(["sqlite3", f.storePath,
                                       "INSERT INTO cosignatures (size, witness, line, received_at) VALUES (\(size), 'x', '— x' || char(10) || char(10) || 'hello' || char(10), '2026-01-01T00:00:00.000Z')"])
        #expect(status == 0, "\(out)")
        let (_, verdict) = try WitnessSubmission.quorum(store: f.store, witnesses: [w.cosignerKey], quorum: 1, maxAge: nil, now: 0)
        #expect(verdict.met)
        let bundle = dir.path + "/bundle"
        _ = try f.run(.exportBundle(directory: bundle), as: "admin")
        let r = BundleVerifier.verify(directory: bundle, witnesses: .init(witnesses: [w.cosignerKey], quorum: 1, maxAge: nil, now: 0))
        #expect(r.valid, "\(r.problems)")
    }

    @Test("a bundle manifest's witnesses and quorum are checked even beside the verifier's keys; an age asked of no witness fails")
    func manifestStatement() throws {
        let dir = TempDir()
        let f = try Fixture()
        let ws = try Q.witnesses(dir, log: f)
        for w in ws { _ = try Self.send(f, w) }
        let bundle = dir.path + "/bundle"
        _ = try f.run(.exportBundle(directory: bundle), as: "admin")
        let keys = ws.map(\.cosignerKey)
        #expect(BundleVerifier.verify(directory: bundle, witnesses: .init(witnesses: [], quorum: nil, maxAge: 3600, now: 0)).problems.map(\.code) == ["witness_quorum"])
        func withManifest(_ extra: [String: JSONValue]) throws -> [String] {
            let copy = dir.path + "/b-\(UUID().uuidString)"
            try FileManager.default.copyItem(atPath: bundle, toPath: copy)
            let url = URL(fileURLWithPath: copy + "/manifest.json")
            var manifest = try #require(try JSONParser.parse(Array(try Data(contentsOf: url))).objectValue)
            for (k, v) in extra { manifest[k] = v }
            try Data(CanonicalJSON.encode(.object(manifest)) + [0x0A]).write(to: url)
            return BundleVerifier.verify(directory: copy, witnesses: .init(witnesses: keys, quorum: 2, maxAge: nil, now: 0)).problems.map(\.code)
        }
        let two: JSONValue = .array(keys.prefix(2).map { .string($0.vkey) })
        #expect(try withManifest(["witnesses": two, "quorum": 2]) == [])
        #expect(try withManifest(["witnesses": two, "quorum": 3]) == ["witness_quorum"])
        #expect(try withManifest(["witnesses": two, "quorum": 0]) == ["witness_quorum"])
        #expect(try withManifest(["witnesses": .array([.string(keys[0].vkey), .string(keys[0].vkey)])]) == ["witness_vkey"])
        #expect(try withManifest(["witnesses": "not a list"]) == ["witness_vkey"])
    }

    @Test("a witness's answer with terminal escapes is shown quoted, and a refusal repeated in the same words is one row")
    func hostileAnswers() throws {
        let f = try Fixture()
        let key = try CosignerKey(name: "witness.test/evil", publicKey: try TrialKey(seed: Array(repeating: 4, count: 32)).publicKey)
        let evil = "no\u{1b}[2J\u{1b}]0;pwned\u{07}\nOK: forged line"
        for _ in 0..<3 {
            do {
                _ = try WitnessSubmission.submit(store: f.store, key: key, transport: { _ in (422, evil) }, now: f.clock.now())
                Issue.record("a 422 was taken")
            } catch {
                let message = TrialGateError(error).message
                #expect(!message.contains("\u{1b}") && !message.contains("\n") && message.contains("\\u001b[2J"), "\(message)")
            }
        }
        #expect(try f.store.witnessRefusals().count == 1)
        _ = try? WitnessSubmission.submit(store: f.store, key: key, transport: { _ in (422, "another answer") }, now: f.clock.now())
        #expect(try f.store.witnessRefusals().count == 2)
    }
}
