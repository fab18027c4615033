import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore
@testable import TrialGateServer
import Logging

/// What an insider with write access to the store file does with `sqlite3`, without the trial's key.
struct Insider {
    let path: String

    /// Runs SQL on the file with the `sqlite3` program, as an attacker would.
    func sql(_ statements: String) throws {
        let (status, output) = try shell(["sqlite3", path, statements])
        guard status == 0 else { throw TrialGateError(.internal, "sqlite3 failed: \(output)") }
    }

    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    /// Appends a correctly chained event after the head, leaving every trigger in place.
    @discardableResult
    func appendForged(_ draft: EventDraft, after head: LogHead) throws -> Event {
        let (event, body) = HashChain.sealWithBody(draft, seq: head.size + 1, prevHash: head.hash)
        try insert(event, body: String(decoding: body, as: UTF8.self))
        return event
    }

    /// Inserts a row for `event` with `body` as its stored bytes.
    func insert(_ event: Event, body: String) throws {
        let registration = event.type == .candidateRegistered ? "\(event.seq)"
            : event.candidate.map { "(SELECT seq FROM events WHERE type = 'candidate.registered' AND candidate = \(Self.quoted($0)))" } ?? "NULL"
        try sql("""
            INSERT INTO events (seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq) VALUES (\(event.seq),
            \(Self.quoted(event.timestamp.description)), \(Self.quoted(event.actor)), \(Self.quoted(event.type.rawValue)),
            \(event.candidate.map(Self.quoted) ?? "NULL"), \(Self.quoted(event.prevHash)), \(Self.quoted(event.hash)),
            \(Self.quoted(body)), \(registration));
            """)
    }

    /// The root of the tree over every stored body, computed the long way (as an attacker can).
    func root(of store: EventStore) throws -> [UInt8] {
        var tree = MerkleFrontier()
        try store.forEachRow { tree.append(leafHash: Merkle.leafHash($0.body)) }
        return tree.root
    }
}

/// A screened candidate and an insider.
final class TrustScene {
    let f: Fixture
    let insider: Insider

    init() throws {
        f = try Fixture(policy: ShippedPolicies.sanetEP)
        insider = Insider(path: f.storePath)
        try f.run(.register(candidate: "NET-1", fields: ["site": "SITE-01"]))
        try f.run(.record(kind: "ki67", candidate: "NET-1", fields: ScreeningTests.ki67))
    }

    /// A Ki-67 of 45 % for NET-1 (G3), appended by the insider, chained right, attributed to anyone.
    @discardableResult
    func forgeKi67() throws -> Event {
        try insider.appendForged(EventDraft(timestamp: f.clock.now(), actor: "dr.house", type: .ki67Recorded, candidate: "NET-1",
                                            payload: ["percent": 45, "specimen_date": "2026-03-02", "method": "manual_count"]),
                                 after: try f.store.head())
    }

    func verify(vkey: String? = nil) throws -> JSONValue { try f.run(.verify(checkpoint: nil, vkey: vkey)) }

    func problems(_ result: JSONValue) -> [(seq: Int, code: String)] {
        (result["problems"]?.arrayValue ?? []).map { ($0["seq"]?.intValue ?? -1, $0["code"]?.stringValue ?? "") }
    }
}

@Suite("Trust in the log: nothing forged is extended, signed or shown as clean")
struct LogTrustTests {
    @Test("a correctly chained event inserted with sqlite3 fails verify, blocks every write, and is flagged by show, export and report")
    func forgedTailIsNeverLaundered() throws {
        let s = try TrustScene()
        let checkpointsBefore = try s.f.store.checkpoints().count
        let forged = try s.forgeKi67()

        let verify = try s.verify()
        #expect(verify["valid"] == false)
        #expect(s.problems(verify).contains { $0.seq == Int(forged.seq) && $0.code == "head_uncovered" }, "\(verify)")
        #expect(try s.f.run(.replay)["valid"] == false)

        // Every write is refused, naming the seq; nothing is appended and no checkpoint is signed over the forgery.
        for command: Command in [.record(kind: "ki67", candidate: "NET-1", fields: ScreeningTests.ki67), .decide(candidate: "NET-1"),
                                 .register(candidate: "NET-2", fields: ["site": "SITE-01"])] {
            do {
                _ = try s.f.run(command)
                Issue.record("\(command.name) was accepted over a forged tail")
            } catch {
                let e = TrialGateError(error)
                #expect(e.code.rawValue == "log_uncovered")
                #expect(e.message.contains("event \(forged.seq)") && e.message.contains("trialgate verify"), "\(e.message)")
            }
        }
        #expect(try s.f.store.checkpoints().count == checkpointsBefore)
        #expect(try s.f.store.head().size == forged.seq)
        #expect(throws: TrialGateError.self) { try s.f.run(.reportSnapshot, as: "admin") }

        // Readers say so instead of looking clean.
        let show = try s.f.run(.show(candidate: "NET-1", asOfSeq: nil, asOfTime: nil))
        #expect(show["log_warning"]?.stringValue?.contains("event \(forged.seq)") == true, "\(show)")
        let page = try s.f.run(.export(from: 1, through: nil, limit: 100))
        #expect(page["log_warning"]?.stringValue != nil)
        let report = try s.f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"))
        #expect(report["log_warning"]?.stringValue != nil)
    }

    @Test("an honest log carries no warning, and a fresh process vouches for it before writing")
    func honestLogIsClean() throws {
        let s = try TrustScene()
        #expect(try s.f.run(.show(candidate: "NET-1", asOfSeq: nil, asOfTime: nil))["log_warning"] == nil)
        #expect(try s.f.run(.export(from: 1, through: nil, limit: 100))["log_warning"] == nil)
        // Another process (another store connection) writes after checking the head it did not write itself.
        let other = Dispatcher(store: try EventStore.open(path: s.f.storePath), clock: s.f.clock, key: { s.f.key })
        _ = try other.execute(.decide(candidate: "NET-1"), actor: "coordinator")
        #expect(try s.verify()["valid"] == true)
    }

    @Test("a store whose checkpoints were all deleted fails verify at event 1, and writes are refused")
    func checkpointsDeleted() throws {
        let s = try TrustScene()
        try s.insider.sql("DROP TRIGGER checkpoints_no_delete; DELETE FROM checkpoints;")
        let verify = try s.verify()
        #expect(s.problems(verify).contains { $0.seq == 1 && $0.code == "head_uncovered" }, "\(verify)")
        #expect(s.f.errorCode(.decide(candidate: "NET-1")) == "log_uncovered")
    }

    @Test("a checkpoint row forged without the key does not make a forged tail covered")
    func unsignedCheckpointDoesNotCover() throws {
        let s = try TrustScene()
        let forged = try s.forgeKi67()
        let fakeKey = try TrialKey(seed: Array(repeating: 99, count: 32))
        let note = try Checkpoint(origin: "trialgate.test/T-1", size: forged.seq, root: try s.insider.root(of: s.f.store))
            .signed(by: [try NoteSigner(name: "trialgate.test/T-1", key: fakeKey)])
        try s.insider.sql("INSERT INTO checkpoints (size, issued_at, note) VALUES (\(forged.seq), '2026-07-01T09:00:00.000Z', \(Insider.quoted(note)))")
        #expect(s.f.errorCode(.decide(candidate: "NET-1")) == "log_uncovered")
        #expect(try s.f.run(.show(candidate: "NET-1", asOfSeq: nil, asOfTime: nil))["log_warning"] != nil)
        #expect(s.problems(try s.verify()).contains { $0.code == "checkpoint_signature" })
    }

    @Test("a key rotation inserted by hand, with a checkpoint signed by the attacker's key, brings no key into force")
    func forgedKeyRotationIsRefused() throws {
        let s = try TrustScene()
        let attacker = try TrialKey(seed: Array(repeating: 66, count: 32))
        let head = try s.f.store.head()
        let publicKey = Data(attacker.publicKey).base64EncodedString()
        let statement = CanonicalJSON.encode(keyRotationStatement(
            trialID: "T-1", logOrigin: "trialgate.test/T-1", previousKeyID: s.f.key.keyID, publicKey: publicKey, keyID: attacker.keyID,
            logSize: head.size, logHead: head.hash))
        // The attacker can sign with their own key only; the old key's signature is theirs too.
        let rotation = try s.insider.appendForged(EventDraft(timestamp: s.f.clock.now(), actor: "admin", type: .keyRotated, candidate: nil, payload: [
            "previous_key_id": .string(s.f.key.keyID), "public_key": .string(publicKey), "key_id": .string(attacker.keyID),
            "signature": .string(Data(attacker.sign(statement)).base64EncodedString()),
            "new_key_signature": .string(Data(attacker.sign(statement)).base64EncodedString()),
        ]), after: head)
        let note = try Checkpoint(origin: "trialgate.test/T-1", size: rotation.seq, root: try s.insider.root(of: s.f.store))
            .signed(by: [try NoteSigner(name: "trialgate.test/T-1", key: attacker)])
        try s.insider.sql("INSERT INTO checkpoints (size, issued_at, note) VALUES (\(rotation.seq), '2026-07-01T09:00:00.000Z', \(Insider.quoted(note)))")

        let withAttackerKey = Dispatcher(store: try EventStore.open(path: s.f.storePath), clock: s.f.clock, key: { attacker })
        do {
            _ = try withAttackerKey.execute(.decide(candidate: "NET-1"), actor: "coordinator")
            Issue.record("a decision was signed with the attacker's key")
        } catch {
            let e = TrialGateError(error)
            #expect(e.code.rawValue == "key_chain_invalid" && e.message.contains("event \(rotation.seq)"), "\(e)")
        }
        #expect(throws: TrialGateError.self) { try withAttackerKey.checkSigningKey() }
        #expect(s.problems(try s.verify()).contains { $0.seq == Int(rotation.seq) && $0.code == "bad_signature" })
    }

    @Test("verify --vkey without a checkpoint: the log's key history must include the vkey; a malformed vkey is an error")
    func vkeyWithoutCheckpoint() throws {
        let s = try TrustScene()
        let real = try s.f.run(.publicKey)["vkey"]!.stringValue!
        #expect(try s.verify(vkey: real)["valid"] == true)
        let other = try NoteVerifierKey(name: "trialgate.test/T-1", publicKey: try TrialKey(seed: Array(repeating: 5, count: 32)).publicKey).vkey
        let rejected = try s.verify(vkey: other)
        #expect(rejected["valid"] == false && s.problems(rejected).contains { $0.code == "untrusted_key" }, "\(rejected)")
        #expect(s.f.errorCode(.verify(checkpoint: nil, vkey: "garbage")) == "invalid_field")
        // After a rotation the first key and the new one are both in the history.
        let newKey = try TrialKey(seed: Array(repeating: 8, count: 32))
        _ = try s.f.dispatcher.rotateKey(to: newKey, actor: "admin")
        #expect(try s.verify(vkey: real)["valid"] == true)
    }

    @Test("an edited registration_seq column fails verify with column_mismatch")
    func registrationColumnChecked() throws {
        let s = try TrustScene()
        try s.f.run(.register(candidate: "NET-2", fields: ["site": "SITE-01"]))                    // 5
        try s.f.run(.record(kind: "ki67", candidate: "NET-2", fields: ScreeningTests.ki67))       // 6
        // NET-2's Ki-67 now reads as NET-1's to every query by candidate.
        try s.insider.sql("DROP TRIGGER events_no_update; UPDATE events SET registration_seq = 3 WHERE seq = 6;")
        let verify = try s.verify()
        #expect(s.problems(verify).contains { $0.seq == 6 && $0.code == "column_mismatch" }, "\(verify)")
    }

    @Test("a write with a key that is not in force is refused with key_not_in_force, as is a report snapshot and a server start")
    func staleKeyRefusedWithOneCode() throws {
        let s = try TrustScene()
        let newKey = try TrialKey(seed: Array(repeating: 8, count: 32))
        _ = try s.f.dispatcher.rotateKey(to: newKey, actor: "admin")
        let stale = Dispatcher(store: try EventStore.open(path: s.f.storePath), clock: s.f.clock, key: { s.f.key })
        for command: Command in [.record(kind: "ki67", candidate: "NET-1", fields: ScreeningTests.ki67), .decide(candidate: "NET-1"), .reportSnapshot] {
            do {
                _ = try stale.execute(command, actor: "admin")
                Issue.record("\(command.name) was accepted with a stale key")
            } catch {
                let e = TrialGateError(error)
                #expect(e.code.rawValue == "key_not_in_force", "\(e)")
                #expect(e.message.contains(newKey.keyID) && e.message.contains("TRIALGATE_KEY") && e.message.contains("--key"), "\(e.message)")
            }
        }
        #expect { try stale.checkSigningKey() } throws: { ($0 as? TrialGateError)?.code.rawValue == "key_not_in_force" }
        let current = Dispatcher(store: try EventStore.open(path: s.f.storePath), clock: s.f.clock, key: { newKey })
        try current.checkSigningKey()
        _ = try current.execute(.decide(candidate: "NET-1"), actor: "coordinator")
    }

    @Test("serve refuses to start with a key that was rotated out, naming the key in force")
    func serveRefusesStaleKey() throws {
        let s = try TrustScene()
        try s.f.key.write(to: s.f.storePath + ".old.key")
        let newKey = try TrialKey(seed: Array(repeating: 8, count: 32))
        _ = try s.f.dispatcher.rotateKey(to: newKey, actor: "admin")
        let config = ServerConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 0), storePath: s.f.storePath,
                                         keyPath: s.f.storePath + ".old.key", usersPath: s.f.storePath + ".users.json")
        let server = LineServer(configuration: config, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        #expect { _ = try server.prepare() } throws: { error in
            let e = TrialGateError(error)
            return e.code.rawValue == "key_not_in_force" && e.message.contains(newKey.keyID)
        }
    }
}

@Suite("Trust in the log: rewrites in place are not built on")
struct RewriteTests {
    /// A scene whose log is exactly `size` events long (a multiple of 16 makes the head complete a stored subtree).
    static func scene(size: Int64) throws -> TrustScene {
        let s = try TrustScene()
        var i = 0
        while try s.f.size() < size {
            try s.f.run(.record(kind: "ki67", candidate: "NET-1", fields: ["percent": .number(Double(5 + i % 10)), "specimen_date": "2026-03-02", "method": "manual_count"]))
            i += 1
        }
        return s
    }

    /// Rewrites event `seq` (a Ki-67 of NET-1) to 45 %, with its hash recomputed and the stored subtrees left alone.
    static func rewrite(_ s: TrustScene, seq: Int64, keepHash: Bool = false) throws {
        let e = try s.f.store.event(seq: seq)!
        var draft = e.draft
        draft.payload = ["percent": 45, "specimen_date": "2026-03-02", "method": "manual_count"]
        let (forged, body) = HashChain.sealWithBody(draft, seq: seq, prevHash: e.prevHash)
        try s.insider.sql("""
            DROP TRIGGER IF EXISTS events_no_update;
            UPDATE events SET body = \(Insider.quoted(String(decoding: body, as: UTF8.self))), hash = \(Insider.quoted(keepHash ? e.hash : forged.hash))
            WHERE seq = \(seq);
            """)
    }

    @Test("a head rewritten in place when it completes a stored subtree is not signed over: writes are refused")
    func headRewrittenAtBlockBoundary() throws {
        let s = try Self.scene(size: 32)
        try Self.rewrite(s, seq: 32)
        let other = Dispatcher(store: try EventStore.open(path: s.f.storePath), clock: s.f.clock, key: { s.f.key })
        #expect(throws: TrialGateError.self) { _ = try other.execute(.decide(candidate: "NET-1"), actor: "coordinator") }
        do { _ = try other.execute(.decide(candidate: "NET-1"), actor: "coordinator") } catch {
            #expect(TrialGateError(error).code.rawValue == "log_uncovered", "\(error)")
        }
        #expect(try s.f.store.head().size == 32)
        // The process that wrote the head itself (its fast path) refuses too: the head's hash is no longer its own.
        #expect(s.f.errorCode(.decide(candidate: "NET-1")) == "log_uncovered")
        // And its reader warns, though the view's seq is the covered size.
        #expect(try s.f.run(.show(candidate: "NET-1", asOfSeq: nil, asOfTime: nil))["log_warning"] != nil)
    }

    @Test("a body edited in place, its hash column kept, is never built on: show and decide refuse it")
    func bodyEditedHashKept() throws {
        let s = try Self.scene(size: 20)
        try Self.rewrite(s, seq: 4, keepHash: true)
        let other = Dispatcher(store: try EventStore.open(path: s.f.storePath), clock: s.f.clock, key: { s.f.key })
        for command: Command in [.decide(candidate: "NET-1"), .show(candidate: "NET-1", asOfSeq: nil, asOfTime: nil)] {
            do {
                _ = try other.execute(command, actor: "coordinator")
                Issue.record("\(command.name) built on an edited body")
            } catch {
                let e = TrialGateError(error)
                // decide may stop first at the head (the tree no longer matches), show at the edited event itself.
                #expect((e.code.rawValue == "store_corrupt" && e.message.contains("event 4")) || e.code.rawValue == "log_uncovered", "\(e)")
                #expect(e.message.contains("trialgate verify"), "\(e)")
            }
        }
        let page = try other.execute(.export(from: 1, through: nil, limit: 100), actor: "auditor")
        #expect(page["log_warning"]?.stringValue?.contains("event 4") == true, "export shows what is stored, and says so")
    }
}

@Suite("Accounts beyond what a checkpoint covers are not honoured")
struct ForgedAccountTests {
    @Test("a user.added inserted with sqlite3 at the tail does not let its token in")
    func forgedAccountIgnored() async throws {
        let s = try await ServerFixture()
        let (token, digest) = UserDirectory.newToken()
        let insider = Insider(path: s.fixture.storePath)
        try insider.appendForged(EventDraft(timestamp: s.fixture.clock.now(), actor: "admin", type: .userAdded, candidate: nil,
                                            payload: ["name": "mallory", "role": "regulator", "sites": [], "token_sha256": .string(digest)]),
                                 after: try s.fixture.store.head())
        let r: JSONValue = try await onThread {
            Thread.sleep(forTimeInterval: 0.8)
            let c = try LineClient(connect: s.address)
            c.setReceiveTimeout(seconds: 10)
            return try reply(c.request(#"{"cmd":"auth","token":"\#(token)"}"#))
        }
        #expect(r["ok"] == false && r["error"]?["code"] == "auth_failed", "\(r)")
        try await s.stop()
    }
}
