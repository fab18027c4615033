import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
@testable import TrialGateStore

/// The store's promises on each database it runs on: the same tests on SQLite and on PostgreSQL (when
/// `scripts/postgres.sh` runs one; CI requires it).
@Suite("One store protocol, two databases")
struct StoreEngineTests {
    @Test("CI has a PostgreSQL primary and its streaming replica for the store tests")
    func postgresIsThereWhenRequired() throws {
        guard TestPostgres.required else { return }
        #expect(TestPostgres.engines.contains(.postgres))
        #expect(TestPostgres.writerURL != nil && TestPostgres.replicaURL != nil)
    }

    @Test("the database itself refuses UPDATE, DELETE and TRUNCATE of the log, gaps, broken chains and checkpoints of nothing",
          arguments: TestPostgres.engines)
    func appendOnlyEnforcedByTheDatabase(engine: StoreEngine) throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: engine)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let size = try f.size()
        let zero = String(repeating: "0", count: 64)
        let attempts: [(sql: String, refusal: String)] = [
            ("UPDATE events SET actor = 'mallory' WHERE seq = 1", "append-only"),
            ("DELETE FROM events WHERE seq = \(size)", "append-only"),
            ("UPDATE checkpoints SET note = 'x' WHERE size = 1", "append-only"),
            ("DELETE FROM merkle_nodes", "append-only"),
            ("INSERT INTO events (seq, ts, actor, type, candidate, prev_hash, hash, body) VALUES (\(size + 5), '2026-07-01T09:00:00.000Z', 'x', 't', NULL, '\(zero)', '\(zero)', '{}')", "gap"),
            ("INSERT INTO events (seq, ts, actor, type, candidate, prev_hash, hash, body) VALUES (\(size + 1), '2026-07-01T09:00:00.000Z', 'x', 't', NULL, '\(zero)', '\(zero)', '{}')", "prev_hash"),
            ("INSERT INTO checkpoints VALUES (\(size + 9), '2026-07-01T09:00:00.000Z', 'x')", "cannot cover"),
        ] + (engine == .postgres ? [("TRUNCATE events CASCADE", "append-only"), ("TRUNCATE checkpoints CASCADE", "append-only")] : [])
        f.store.close()
        for attempt in attempts {
            let refusal: String?
            switch engine {
            case .sqlite:
                let (status, output) = try shell(["sqlite3", f.dir.path + "/t.sqlite", attempt.sql + ";"])
                refusal = status == 0 ? nil : output
            case .postgres:
                // As the owner, who may write the tables: the triggers refuse.
                refusal = try TestPostgres.run(attempt.sql, trial: f.trial!)
            }
            #expect(refusal?.contains(attempt.refusal) == true || (attempt.refusal == "gap" && refusal?.contains("without gaps") == true),
                    "\(engine): \(attempt.sql.prefix(40)) → \(refusal ?? "accepted")")
        }
        let reopened = try EventStore.open(path: f.storePath)
        #expect(try reopened.head().size == size)
        #expect(try Dispatcher(store: reopened, clock: f.clock, key: { f.key }).execute(.verify(), actor: "regulator")["valid"] == true)
    }

    @Test("on PostgreSQL the writer role cannot change a row even with the triggers gone: it may not disable them, nor UPDATE or DELETE")
    func writerRoleOnlyAppends() throws {
        guard TestPostgres.engines.contains(.postgres) else { return }
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: .postgres)
        for sql in ["ALTER TABLE events DISABLE TRIGGER ALL", "DROP TRIGGER events_no_change ON events", "UPDATE events SET actor = 'mallory' WHERE seq = 1",
                    "DELETE FROM checkpoints", "UPDATE merkle_nodes SET hash = hash", "TRUNCATE events", "CREATE TABLE events_copy (x int)"] {
            let refusal = try TestPostgres.run(sql, trial: f.trial!, asOwner: false)
            #expect(refusal != nil && (refusal!.contains("permission denied") || refusal!.contains("must be owner")), "\(sql) → \(refusal ?? "accepted")")
        }
        #expect(try f.store.structuralProblems() == [])
    }

    @Test("an edit made by the database's owner after disabling the triggers is caught by verify, and the disabled trigger by the structural check")
    func ownerTamperingCaught() throws {
        guard TestPostgres.engines.contains(.postgres) else { return }
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: .postgres)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let target = try f.store.events().first { $0.type == .ki67Recorded }!.seq
        #expect(try TestPostgres.run("""
            ALTER TABLE events DISABLE TRIGGER events_no_change;
            UPDATE events SET body = replace(body, '"percent":', '"percent":1') WHERE seq = \(target)
            """, trial: f.trial!) == nil)
        let verify = try Dispatcher(store: try EventStore.open(path: f.storePath), clock: f.clock, key: { f.key }).execute(.verify(), actor: "regulator")
        #expect(verify["valid"] == false)
        #expect("\(verify)".contains("\(target)"))
        #expect(try f.store.structuralProblems().contains { $0.contains("events_no_change") })
    }

    @Test("the same commands leave the same bytes on SQLite and on PostgreSQL: events, tree, checkpoints, signatures, the export bundle")
    func sameBytesOnBothDatabases() throws {
        guard TestPostgres.engines.contains(.postgres) else { return }
        let stores = try [StoreEngine.sqlite, .postgres].map { engine -> Fixture in
            let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: engine)
            _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
            f.clock.advance(seconds: 60)
            _ = try f.run(.register(candidate: "Z-1", fields: ["site": "S1"]))
            return f
        }
        let (a, b) = (stores[0].store, stores[1].store)
        func rows(_ s: EventStore) throws -> [String] {
            var out: [String] = []
            try s.forEachRow { r in out.append("\(r.seq) \(r.timestamp) \(r.actor) \(r.type) \(r.candidate ?? "-") \(r.prevHash) \(r.hash) \(r.registrationSeq ?? 0) \(Digest.sha256Hex(r.body))") }
            return out
        }
        let (rowsA, rowsB) = (try rows(a), try rows(b))
        #expect(rowsA.count > 50)
        #expect(rowsA == rowsB)
        #expect(try a.checkpoints() == b.checkpoints())
        let n = try a.head().size
        #expect(try (1...n).map { try a.merkleRoot(size: $0) } == (1...n).map { try b.merkleRoot(size: $0) })
        // The bundle a regulator is handed, file for file.
        var files: [[String: [UInt8]]] = []
        for f in stores {
            let out = f.dir.path + "/bundle"
            _ = try f.run(.exportBundle(directory: out), as: "regulator")
            var contents: [String: [UInt8]] = [:]
            for name in try FileManager.default.subpathsOfDirectory(atPath: out) {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: out + "/" + name, isDirectory: &isDir), !isDir.boolValue {
                    contents[name] = Array(try Data(contentsOf: URL(fileURLWithPath: out + "/" + name)))
                }
            }
            files.append(contents)
        }
        #expect(files[0].count > 2)
        #expect(files[0].keys.sorted() == files[1].keys.sorted())
        for name in files[0].keys.sorted() { #expect(files[0][name] == files[1][name], "\(name) differs") }
    }

    @Test("two stores writing one log at once, from two threads, take turns: one chain, no two events share a seq", arguments: TestPostgres.engines)
    func concurrentWritersOneChain(engine: StoreEngine) throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: engine)
        let start = try f.size()
        let perWriter = 60
        let errors = NSLock()
        nonisolated(unsafe) var failures: [String] = []
        let (path, clock, key) = (f.storePath, f.clock, f.key)
        DispatchQueue.concurrentPerform(iterations: 2) { w in
            do {
                let d = Dispatcher(store: try EventStore.open(path: path), clock: clock, key: { key })
                for i in 0..<perWriter { _ = try d.execute(.register(candidate: "W\(w)-\(i)", fields: ["site": "S1"]), actor: "coordinator") }
            } catch {
                errors.lock(); failures.append("\(error)"); errors.unlock()
            }
        }
        #expect(failures == [])
        #expect(try f.size() == start + Int64(2 * perWriter))
        let seqs = try f.store.events().map(\.seq)
        #expect(seqs == Array(1...Int64(seqs.count)))
        #expect(try f.run(.verify(), as: "regulator")["valid"] == true)
    }

    @Test("a PostgreSQL store URL that is wrong says which part and what was expected, and never echoes the password",
          arguments: [("postgres://u:secret@h/db", "trial"), ("postgres://h/db?trial=x", "user"), ("postgres://u@h:99999/db?trial=x", "port"),
                      ("postgres://u@h/db?trial=X-1", "lower-case"), ("postgres://u@h?trial=x", "database"), ("postgres://u@h/db?trial=x&ssl=1", "only")])
    func badURLs(url: String, part: String) {
        #expect { try EventStore.open(path: url) } throws: { e in
            let m = "\(e)"
            return (e as? TrialGateError)?.code == .badRequest && m.contains(part) && !m.contains("secret")
        }
    }

    @Test("a PostgreSQL server whose acknowledged commits would not survive a crash, or whose text is not UTF-8, is refused",
          arguments: [("off", "on", "UTF8", "fsync=off"), ("on", "off", "UTF8", "synchronous_commit=off"), ("on", "on", "LATIN1", "LATIN1"),
                      ("on", "on", "UTF8", nil), ("on", "remote_apply", "UTF8", nil), ("on", "local", "UTF8", nil)] as [(String, String, String, String?)])
    func serverSettings(fsync: String, sync: String, encoding: String, refusal: String?) throws {
        let problem = PostgresLogDatabase.serverProblem(fsync: fsync, synchronousCommit: sync, encoding: encoding)
        #expect(problem.map { refusal != nil && $0.contains(refusal!) } ?? (refusal == nil), "\(problem ?? "accepted")")
        // And the server the tests run on passes the same check when a store opens.
        if TestPostgres.engines.contains(.postgres), refusal == nil, sync == "on" {
            let f = try Fixture(engine: .postgres)
            #expect(try (f.store.database as! PostgresLogDatabase).synchronousCommit() == "on")
        }
    }

    @Test("a replica serves reads and refuses writes with store_readonly")
    func replicaIsReadOnly() throws {
        guard TestPostgres.engines.contains(.postgres), let replica = TestPostgres.replicaURL else { return }
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: .postgres)
        let size = try f.size()
        // Streaming replication is asynchronous: wait (briefly) for the replica to replay the trial.
        var store: EventStore?
        for _ in 0..<100 {
            if let s = try? EventStore.open(path: TestPostgres.url(replica, trial: f.trial!)), try s.head().size == size { store = s; break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let onReplica = try #require(store)
        #expect(onReplica.database.isReadOnly)
        #expect(try onReplica.checkpoints() == f.store.checkpoints())
        let d = Dispatcher(store: onReplica, clock: f.clock, key: { f.key })
        #expect(try d.execute(.verify(), actor: "regulator")["valid"] == true)
        #expect { try d.execute(.register(candidate: "R-1", fields: ["site": "S1"]), actor: "coordinator") } throws: {
            ($0 as? TrialGateError)?.code == .storeReadonly
        }
        // The replica's lag, as `head` reports it (and `trialgate status` prints it); the primary has none.
        let head = try d.execute(.head, actor: "regulator")
        #expect(head["store"]?["engine"] == "postgresql" && head["store"]?["read_only"] == true && head["store"]?["trial"] == .string(f.trial!))
        let replicaStatus = try #require(try onReplica.status().replica)
        #expect(replicaStatus.streaming)
        #expect((replicaStatus.lagMilliseconds ?? -1) >= 0 && (replicaStatus.bytesBehind ?? -1) >= 0)
        #expect(replicaStatus.lastReplayedCommitAt?.hasSuffix("Z") == true)
        #expect(head["store"]?["replica"]?["streaming"] == true)
        #expect(try onReplica.status().lagProblem(limit: 600_000) == nil)
        let primary = try f.store.status()
        #expect(primary.engine == "postgresql" && primary.replica == nil && !primary.readOnly)
    }

    @Test("head reports the store: SQLite's engine; a replica not streaming has an unknown lag, which status refuses")
    func storeStatus() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let d = Dispatcher(store: f.store, clock: f.clock, key: { f.key })
        let head = try d.execute(.head, actor: "regulator")
        #expect(head["store"] == ["engine": "sqlite", "read_only": false])
        let cut = StoreStatus(engine: "postgresql", trial: "t", readOnly: true,
                              replica: .init(streaming: false, bytesBehind: nil, lagMilliseconds: nil, lastReplayedCommitAt: "2026-12-01T10:00:00.000Z",
                                             sinceLastMessageMilliseconds: nil, primary: nil))
        #expect(cut.lagProblem(limit: nil)?.contains("not streaming") == true)
        #expect(cut.summary.contains("NOT streaming"))
        var behind = cut
        behind.replica = .init(streaming: true, bytesBehind: 8192, lagMilliseconds: 2_500, lastReplayedCommitAt: nil, sinceLastMessageMilliseconds: 10, primary: "db:5432")
        #expect(behind.lagProblem(limit: 1_000)?.contains("2500 ms behind") == true)
        #expect(behind.lagProblem(limit: 5_000) == nil)
        #expect(StoreStatus(engine: "sqlite", readOnly: false).lagProblem(limit: 0) == nil)
    }
}

/// Several nodes on one PostgreSQL trial: the writer lease, and the fence the database keeps.
@Suite("Nodes sharing a PostgreSQL trial")
struct WriterLeaseTests {
    /// A dispatcher on the fixture's trial as node `name`, with a lease of `ms` milliseconds.
    private func node(_ f: Fixture, _ name: String, ms: Int = 600) throws -> Dispatcher {
        let store = try EventStore.open(path: f.storePath)
        (store.database as? PostgresLogDatabase)?.lease = WriterLease(node: name, address: "\(name).example:7400", milliseconds: ms)
        return Dispatcher(store: store, clock: f.clock, key: { f.key })
    }

    @Test("one node writes at a time; another is refused with not_leader naming the holder, and takes over once the lease runs out")
    func leaseHandsOver() throws {
        guard TestPostgres.engines.contains(.postgres) else { return }
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: .postgres)
        let (a, b) = (try node(f, "a"), try node(f, "b"))
        _ = try a.execute(.register(candidate: "L-1", fields: ["site": "S1"]), actor: "coordinator")
        #expect { try b.execute(.register(candidate: "L-2", fields: ["site": "S1"]), actor: "coordinator") } throws: {
            ($0 as? TrialGateError)?.code == .notLeader && "\($0)".contains("a.example:7400")
        }
        _ = try a.execute(.register(candidate: "L-3", fields: ["site": "S1"]), actor: "coordinator")
        Thread.sleep(forTimeInterval: 0.8)
        _ = try b.execute(.register(candidate: "L-2", fields: ["site": "S1"]), actor: "coordinator")
        // The node that lost the lease cannot append or sign, whatever its own clock says.
        #expect { try a.execute(.register(candidate: "L-4", fields: ["site": "S1"]), actor: "coordinator") } throws: {
            ($0 as? TrialGateError)?.code == .notLeader && "\($0)".contains("b.example:7400")
        }
        let holder = try #require(try (b.store!.database as! PostgresLogDatabase).leaseHolder())
        #expect(holder.node == "b" && holder.epoch == 2 && holder.live)
        #expect(try f.store.events(candidate: "L-4").isEmpty)
        #expect(try f.run(.verify(), as: "regulator")["valid"] == true)
    }

    @Test("a node that stalls inside its write transaction is cut off by the database: the others go on, and its commit never lands")
    func stalledWriterIsFenced() throws {
        guard TestPostgres.engines.contains(.postgres) else { return }
        let f = try Fixture(policy: ShippedPolicies.sanetEP, engine: .postgres)
        let stalled = try EventStore.open(path: f.storePath)
        let before = try f.size()
        let started = Date()
        #expect(throws: TrialGateError.self) {
            try stalled.write { txn in
                try txn.append(HashChain.seal(EventDraft(timestamp: f.clock.now(), actor: "a", type: .candidateRegistered, candidate: "S-9", payload: ["site": "S1"]),
                                              seq: txn.head.size + 1, prevHash: txn.head.hash))
                // As a process stopped with SIGSTOP would: the lock held, nothing sent, past the database's limit.
                Thread.sleep(forTimeInterval: Double(PostgresLogDatabase.stalledTransactionLimit) / 1000 + 1)
            }
        }
        #expect(Date().timeIntervalSince(started) >= Double(PostgresLogDatabase.stalledTransactionLimit) / 1000)
        #expect(try f.size() == before)
        _ = try f.run(.register(candidate: "S-10", fields: ["site": "S1"]))
        // The stalled store reconnects on its next write and follows the head that moved on meanwhile.
        _ = try Dispatcher(store: stalled, clock: f.clock, key: { f.key }).execute(.register(candidate: "S-11", fields: ["site": "S1"]), actor: "coordinator")
        #expect(try f.size() == before + 2)
        #expect(try f.run(.verify(), as: "regulator")["valid"] == true)
    }
}

/// A PostgreSQL session the server ends under TrialGate: every query on it fails at once, none waits for ever.
@Suite("Sessions the server ends")
struct EndedSessionTests {
    @Test("a query sent as the server ends the session fails (store_io) instead of waiting for an answer that never comes",
          .timeLimit(.minutes(1)))
    func queryOnEndedSessionFails() throws {
        guard let owner = TestPostgres.ownerURL else { return }
        let location = try PostgresLocation(owner, trialOptional: true)
        let killer = try PostgresConnectionBox(location)
        defer { killer.close() }
        for round in 0..<6 {
            let victim = try PostgresConnectionBox(location)
            defer { victim.close() }
            let pid = try #require(try victim.rows("SELECT pg_backend_pid()", [], "reading the pid").first?.makeRandomAccess()[0].decode(Int32.self))
            // The server ends the session: between the box's check and its send (the race a node resumed after SIGSTOP
            // runs: its event loop reads the session's end as its writer sends), or before the check.
            let end = {
                // Returns once the backend is gone (PG 15, 9.27.2 "Server Signaling Functions", with a timeout).
                _ = try? killer.rows("SELECT pg_terminate_backend($1::int, 5000)", [.int(Int64(pid))], "ending the victim's session")
                // And once this side has read the end and closed the channel.
                for _ in 0..<500 where !victim.isClosed { Thread.sleep(forTimeInterval: 0.01) }
            }
            if round % 2 == 0 {
                victim.beforeSend = { victim.beforeSend = nil; end() }
            } else {
                end()
            }
            #expect(throws: TrialGateError.self) { try victim.rows("SELECT 1", [], "querying after the end") }
            #expect(victim.isClosed)
            #expect(throws: TrialGateError.self) { try victim.rows("SELECT 1", [], "querying again") }
        }
    }
}

/// `trialgate migrate`'s copy: a log moved between databases keeps every byte.
@Suite("Moving a log between databases")
struct LogCopyTests {
    @Test("a log copied SQLite → PostgreSQL → SQLite keeps every row, checkpoint, cosignature and snapshot, and verifies")
    func roundTrip() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let size = try f.size()
        // A witness's cosignature and refusal, kept as a real witness would leave them.
        _ = try f.store.addCosignature(size: size, witness: "w.example", line: "— w.example AAAA\n", receivedAt: f.clock.now())
        _ = try f.store.addWitnessRefusal(size: size, witness: "w2.example", status: 409, answer: "size 3", receivedAt: f.clock.now())
        var hops = [f.store]
        let engines: [StoreEngine] = TestPostgres.engines.contains(.postgres) ? [.postgres, .sqlite] : [.sqlite]
        var trials: [String] = []
        defer { trials.forEach(TestPostgres.drop) }
        for (i, engine) in engines.enumerated() {
            let target: EventStore
            if engine == .postgres {
                let trial = TestPostgres.newTrial()
                trials.append(trial)
                target = try EventStore.create(path: TestPostgres.url(TestPostgres.ownerURL!, trial: trial), writerRole: "tg_writer")
            } else {
                target = try EventStore.create(path: f.dir.path + "/copy\(i).sqlite")
            }
            let summary = try hops.last!.copyLog(to: target)
            #expect(summary.events == size && summary.cosignatures == 1 && summary.refusals == 1)
            hops.append(target)
        }
        for store in hops.dropFirst() {
            var a: [String] = [], b: [String] = []
            try f.store.forEachRow { a.append("\($0.seq) \($0.hash) \($0.registrationSeq ?? 0) \(Digest.sha256Hex($0.body))") }
            try store.forEachRow { b.append("\($0.seq) \($0.hash) \($0.registrationSeq ?? 0) \(Digest.sha256Hex($0.body))") }
            #expect(a == b)
            #expect(try store.checkpoints() == f.store.checkpoints())
            #expect(try store.cosignatures(size: size) == f.store.cosignatures(size: size))
            #expect(try store.witnessRefusals() == f.store.witnessRefusals())
            #expect(try store.merkleRoot(size: size) == f.store.merkleRoot(size: size))
            #expect(try Dispatcher(store: store, clock: f.clock, key: { f.key }).execute(.verify(), actor: "regulator")["valid"] == true)
        }
        // Into a store that already holds a log: refused, and that log is untouched.
        let other = try Fixture()
        #expect { try f.store.copyLog(to: other.store) } throws: { ($0 as? TrialGateError)?.code == .storeExists }
        #expect(try other.size() == 1)
    }
}
