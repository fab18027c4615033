import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
@testable import TrialGateStore

@Suite("The SQLite store and tamper evidence")
struct StoreTests {
    @Test("the writer runs in WAL mode with synchronous=FULL, read back")
    func durabilitySettings() throws {
        let f = try Fixture()
        #expect(try f.store.synchronousSetting() == 2)
        #expect(try f.store.journalMode() == "wal")
    }

    @Test("the schema refuses UPDATE and DELETE of events, and gaps in the chain")
    func appendOnly() throws {
        let f = try Fixture()
        f.store.close()
        let (s1, o1) = try shell(["sqlite3", f.storePath, "UPDATE events SET actor = 'mallory' WHERE seq = 1;"])
        #expect(s1 != 0 && o1.contains("append-only"))
        let (s2, o2) = try shell(["sqlite3", f.storePath, "DELETE FROM events;"])
        #expect(s2 != 0 && o2.contains("append-only"))
        let (s3, _) = try shell(["sqlite3", f.storePath, "INSERT INTO events VALUES (5, '2026-07-01T09:00:00.000Z', 'x', 't', NULL, '\(String(repeating: "0", count: 64))', '\(String(repeating: "1", count: 64))', '{}');"])
        #expect(s3 != 0)
        let (_, count) = try shell(["sqlite3", f.storePath, "SELECT count(*) FROM events;"])
        #expect(count.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }

    @Test("an edit made with sqlite3 after dropping the triggers is caught by verify at that event")
    func tamperDetected() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        #expect(try f.run(.verify())["valid"] == true)
        f.store.close()
        // Change Ki-67 of NET-003 (35 %) to 5 % in the hashed body, as an insider with the file would.
        let (_, seqText) = try shell(["sqlite3", f.storePath, "SELECT seq FROM events WHERE candidate = 'NET-003' AND type = 'ki67.recorded';"])
        let seq = Int(seqText.trimmingCharacters(in: .whitespacesAndNewlines))!
        let (status, out) = try shell(["sqlite3", f.storePath, """
            DROP TRIGGER events_no_update;
            UPDATE events SET body = replace(body, '"percent":35', '"percent":5') WHERE seq = \(seq);
            """])
        #expect(status == 0, "\(out)")
        let reopened = try EventStore.open(path: f.storePath)
        let verify = try Dispatcher(store: reopened, clock: f.clock, key: { f.key }).execute(.verify(), actor: "regulator")
        #expect(verify["valid"] == false)
        #expect(verify["first_bad_seq"]?.intValue == seq)
        #expect(verify["problems"]?.arrayValue?.first?["code"] == "hash_mismatch")
    }

    @Test("a stored body that is not its event's RFC 8785 form is caught, even with its hash recomputed",
          arguments: ["whitespace", "reordered", "no_candidate", "hash_member", "escaped_slash"])
    func nonCanonicalBody(kind: String) throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        f.store.close()
        let (_, bodyText) = try shell(["sqlite3", f.storePath, "SELECT body FROM events WHERE seq = 1;"])
        let body = bodyText.trimmingCharacters(in: .newlines)
        let actor = body[..<body.range(of: ",\"candidate\":null,")!.lowerBound]  // {"actor":"admin"
        let forged = switch kind {
        case "whitespace": body.replacingOccurrences(of: ",\"candidate\":null,", with: ", \"candidate\":null,")
        case "reordered": "{\"candidate\":null," + actor.dropFirst() + "," + body[body.range(of: ",\"candidate\":null,")!.upperBound...]
        case "no_candidate": body.replacingOccurrences(of: "\"candidate\":null,", with: "")
        case "hash_member": body.replacingOccurrences(of: "\"candidate\":null,", with: "\"candidate\":null,\"hash\":\"x\",")
        default: body.replacingOccurrences(of: "trialgate.test/T-1", with: "trialgate.test\\/T-1")
        }
        #expect(forged != body)
        // Same event when read, other bytes: the hash column follows the new bytes, so only the form is wrong.
        #expect(try Event(json: JSONParser.parse(Array(forged.utf8))).draft == (try EventStore.open(path: f.storePath).event(seq: 1))!.draft)
        let (status, out) = try shell(["sqlite3", f.storePath, """
            DROP TRIGGER events_no_update;
            UPDATE events SET body = '\(forged)', hash = '\(Digest.sha256Hex(Array(forged.utf8)))' WHERE seq = 1;
            """])
        #expect(status == 0, "\(out)")
        let verify = try Dispatcher(store: try EventStore.open(path: f.storePath), clock: f.clock, key: { f.key }).execute(.verify(), actor: "regulator")
        let problems = (verify["problems"]?.arrayValue ?? []).filter { $0["seq"]?.intValue == 1 }.compactMap { $0["code"]?.stringValue }
        #expect(problems.contains("not_canonical"), "\(verify)")
        #expect(!problems.contains("hash_mismatch"))
    }

    @Test("a rewritten chain still fails: re-derived decisions and signatures no longer match")
    func rewrittenChainDetected() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let forged = try f.forgedCopyLoweringKi67(of: "NET-003")
        let verify = try Dispatcher(store: forged, clock: f.clock, key: { f.key }).execute(.verify(), actor: "regulator")
        #expect(verify["valid"] == false)
        let codes = Set((verify["problems"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue })
        #expect(codes.contains("decision_context"))
        #expect(codes.contains("decision_mismatch"))
    }

    @Test("a decision carrying another decision's signature is caught, even with every hash recomputed")
    func swappedSignature() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        var events = try f.store.events()
        let decisions = events.indices.filter { events[$0].type == .decisionIssued }
        let (a, b) = (decisions[0], decisions[1])
        var prev = Event.genesisHash
        for i in events.indices {
            var draft = events[i].draft
            if i == b { draft.payload = ["decision": draft.payload["decision"]!, "signature": events[a].payload["signature"]!] }
            events[i] = HashChain.seal(draft, seq: events[i].seq, prevHash: prev)
            prev = events[i].hash
        }
        let forged = try EventStore.create(path: f.dir.path + "/forged.sqlite")
        try forged.write { txn in for e in events { try txn.append(e) } }
        let d = Dispatcher(store: forged, clock: f.clock, key: { f.key })
        let verify = try d.execute(.verify(), actor: "regulator")
        #expect(verify["valid"] == false)
        #expect(verify["problems"]?.arrayValue?.contains { $0["code"] == "bad_signature" && $0["seq"]?.intValue == Int(events[b].seq) } == true)
        let replay = try d.execute(.replay, actor: "regulator")
        #expect(replay["mismatched"]?.intValue ?? 0 >= 1)
    }

    @Test("a store of schema version 2 is upgraded on open: same events, same head, no hash index, still verifiable")
    func upgradeFromVersion2() throws {
        // The demo's log, as a build of schema version 2 would have stored it: the same rows, without the
        // registration column.
        let demo = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: demo.clock.now().date).run(dispatcher: demo.dispatcher, actor: "coordinator")
        let before = try demo.store.events()
        let checkpoints = try demo.store.checkpoints().count
        demo.store.close()
        let dir = TempDir()
        let path = dir.path + "/v2.sqlite"
        try EventStore.create(path: path, schemaVersion: 2).close()
        let (copied, copyOut) = try shell(["sqlite3", path, """
            ATTACH '\(demo.storePath)' AS demo;
            BEGIN;
            INSERT INTO main.events SELECT seq, ts, actor, type, candidate, prev_hash, hash, body FROM demo.events ORDER BY seq;
            INSERT INTO main.merkle_nodes SELECT * FROM demo.merkle_nodes;
            INSERT INTO main.checkpoints SELECT * FROM demo.checkpoints;
            COMMIT;
            PRAGMA user_version; SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_autoindex_events_1';
            """])
        #expect(copied == 0, "\(copyOut)")
        #expect(copyOut.split(separator: "\n") == ["2", "1"])

        let upgraded = try EventStore.open(path: path)
        #expect(try upgraded.events() == before)
        #expect(try upgraded.checkpoints().count == checkpoints)
        let dispatcher = Dispatcher(store: upgraded, clock: demo.clock, key: { demo.key })
        #expect(try dispatcher.execute(.verify(), actor: "regulator")["valid"] == true)
        // The append-only triggers came through the copy.
        _ = try dispatcher.execute(.register(candidate: "NET-UPG", fields: ["site": "SITE-01"]), actor: "coordinator")
        upgraded.close()
        #expect(try EventStore.open(path: path).events(candidate: "NET-003") == before.filter { $0.candidate == "NET-003" })
        let (_, upgradedSchema) = try shell(["sqlite3", path, """
            PRAGMA user_version; SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_autoindex_events_1';
            SELECT group_concat(name) FROM migrations;
            SELECT count(*) FROM events WHERE (candidate IS NULL) <> (registration_seq IS NULL);
            """])
        #expect(upgradedSchema.split(separator: "\n") == ["6", "0", "0001_events,0002_merkle,0003_events_by_registration,0004_report_snapshots,0005_cosignatures,0006_witness_refusals", "0"])
        // An event filed under another candidate's registration is refused by the schema.
        let (sr, or) = try shell(["sqlite3", path, """
            INSERT INTO events SELECT (SELECT max(seq) FROM events) + 1, ts, actor, 'ki67.recorded', 'NET-003',
                (SELECT hash FROM events ORDER BY seq DESC LIMIT 1), hash, body, 1 FROM events WHERE seq = 2;
            """])
        #expect(sr != 0 && or.contains("registration_seq must be"), "\(or)")
        let (status, out) = try shell(["sqlite3", path, "DELETE FROM events WHERE seq = 2;"])
        #expect(status != 0 && out.contains("append-only"))
        let (sc, oc) = try shell(["sqlite3", path, "INSERT INTO checkpoints VALUES (100000, '2026-07-01T09:00:00.000Z', 'x');"])
        #expect(sc != 0 && oc.contains("cannot cover"))
    }

    @Test("a truncated or foreign file gives a clear error, not a crash", arguments: ["truncated", "garbage", "foreign"])
    func damagedFiles(kind: String) throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        f.store.close()
        let path = f.storePath
        _ = try shell(["sqlite3", path, "PRAGMA wal_checkpoint(TRUNCATE);"])
        switch kind {
        case "truncated":
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        case "garbage":
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        default:
            try FileManager.default.removeItem(atPath: path)
            _ = try shell(["sqlite3", path, "CREATE TABLE t(x);"])
        }
        do {
            let store = try EventStore.open(path: path)
            let result = try Dispatcher(store: store, clock: f.clock, key: { f.key }).execute(.verify(), actor: "r")
            #expect(result["valid"] == false)
        } catch {
            let e = TrialGateError(error)
            #expect(e.code == .storeCorrupt, "\(e)")
            #expect(e.message.contains(path))
        }
    }

    @Test("opening a missing store says how to create one")
    func missingStore() {
        #expect { try EventStore.open(path: "/nonexistent/x.sqlite") } throws: {
            ($0 as? TrialGateError)?.code == .storeMissing && "\($0)".contains("trialgate init")
        }
    }

    @Test("a failed write inside a transaction leaves nothing behind", arguments: TestPostgres.engines)
    func rollback(engine: StoreEngine) throws {
        let f = try Fixture(engine: engine)
        #expect(throws: TrialGateError.self) {
            try f.store.write { txn in
                try txn.append(HashChain.seal(EventDraft(timestamp: f.clock.now(), actor: "a", type: .candidateRegistered, candidate: "C-9", payload: ["site": "S"]),
                                              seq: 2, prevHash: txn.head.hash))
                throw TrialGateError(.internal, "abort after the first append")
            }
        }
        #expect(try f.size() == 1)
    }
}

@Suite("The Merkle tree and checkpoints in the store")
struct MerkleStoreTests {
    @Test("the stored tree is the RFC 6962 tree of the stored bytes; every proof the store gives verifies", arguments: TestPostgres.engines)
    func storedTreeMatches(engine: StoreEngine) throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: engine)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        var memory = MerkleMemoryTree()
        try f.store.forEachRow { memory.append(leafHash: Merkle.leafHash($0.body)) }
        let n = try f.size()
        for size in Int64(1)...n {
            #expect(try f.store.merkleRoot(size: size) == Merkle.root(size: size, memory))
        }
        // Proofs through the command vocabulary, checked against the signed checkpoint.
        let cp = try f.run(.checkpoint(size: nil))
        let checkpoint = try Checkpoint.open(cp["note"]!.stringValue!, keys: [try NoteVerifierKey(name: "trialgate.test/T-1", publicKey: f.key.publicKey)]).checkpoint
        #expect(checkpoint.size == n)
        for seq in stride(from: Int64(1), through: n, by: 7) {
            let p = try f.run(.proofInclusion(seq: seq, size: nil))
            let proof = p["proof"]!.arrayValue!.map { Array(Data(base64Encoded: $0.stringValue!)!) }
            try Merkle.verifyInclusion(index: seq - 1, size: n, leafHash: try memory.node(level: 0, index: seq - 1), proof: proof, root: checkpoint.root)
            let c = try f.run(.proofConsistency(from: seq, to: nil))
            let cproof = c["proof"]!.arrayValue!.map { Array(Data(base64Encoded: $0.stringValue!)!) }
            try Merkle.verifyConsistency(size1: seq, size2: n, root1: try Merkle.root(size: seq, memory), root2: checkpoint.root, proof: cproof)
        }
        #expect(f.errorCode(.proofInclusion(seq: n + 1, size: nil)) == "invalid_field")
        #expect(f.errorCode(.proofConsistency(from: 0, to: nil)) == "invalid_field")
        #expect(f.errorCode(.checkpoint(size: n + 5)) == "unknown_checkpoint")
    }

    @Test("every write and every decision gets a checkpoint; a batch shares one; a failed write adds none", arguments: TestPostgres.engines)
    func checkpointIssuance(engine: StoreEngine) throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: engine)
        let before = try f.store.checkpoints().count
        #expect(before == 2, "init and policy publish")
        let results = try f.dispatcher.executeBatch([
            (.register(candidate: "B-1", fields: ["site": "S1"]), "c"),
            (.register(candidate: "B-1", fields: ["site": "S1"]), "c"),   // refused: duplicate
            (.decide(candidate: "B-1"), "c"),
            (.register(candidate: "B-2", fields: ["site": "S1"]), "c"),
        ])
        #expect(results.map { (try? $0.get()) != nil } == [true, false, true, true])
        // The decision (event 4) opens one review query per criterion it could not decide, in the same command.
        let queries = Int64(try results[2].get()["queries_opened"]?.arrayValue?.count ?? -1)
        #expect(queries > 0)
        let sizes = try f.store.checkpoints().map(\.size)
        #expect(sizes.suffix(2) == [4 + queries, 5 + queries], "one after the decision and its queries, one at the end of the batch")
        #expect(f.errorCode(.register(candidate: "B-2", fields: ["site": "S1"])) != nil)
        #expect(try f.store.checkpoints().count == sizes.count)
        // The schema keeps checkpoints append-only, and none may claim events that do not exist (on PostgreSQL:
        // StoreEngineTests.appendOnlyEnforcedByTheDatabase).
        guard engine == .sqlite else { return }
        f.store.close()
        let (s1, o1) = try shell(["sqlite3", f.storePath, "UPDATE checkpoints SET note = 'x' WHERE size = 1;"])
        #expect(s1 != 0 && o1.contains("append-only"))
        let (s2, o2) = try shell(["sqlite3", f.storePath, "INSERT INTO merkle_nodes VALUES (4, 999, zeroblob(32)); DELETE FROM merkle_nodes;"])
        #expect(s2 != 0 && o2.contains("append-only"))
        let (s3, o3) = try shell(["sqlite3", f.storePath, "INSERT INTO checkpoints VALUES (99, '2026-07-01T09:00:00.000Z', 'x');"])
        #expect(s3 != 0 && o3.contains("cannot cover"))
    }

    @Test("a log origin that cannot name a signed-note key is refused at init")
    func originRules() throws {
        let dir = TempDir()
        let store = try EventStore.create(path: dir.path + "/o.sqlite")
        let key = try TrialKey(seed: Array(repeating: 3, count: 32))
        let d = Dispatcher(store: store, clock: TestClock(), key: { key })
        for bad in ["has space", "a+b", ""] {
            #expect { try d.execute(.initialise(trialID: "T", logOrigin: bad), actor: "a") } throws: { TrialGateError($0).code.rawValue == "invalid_field" }
        }
        #expect(try store.head().size == 0)
    }
}
