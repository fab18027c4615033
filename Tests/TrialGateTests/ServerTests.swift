import Foundation
import Logging
import ServiceLifecycle
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateServer
@testable import TrialGateService
import TrialGateStore

/// A server on an ephemeral loopback port over a fresh store, with one user per role.
final class ServerFixture: @unchecked Sendable {
    let fixture: Fixture
    let server: LineServer
    let group: ServiceGroup
    let runTask: Task<Void, Error>
    var tokens: [String: String] = [:]
    /// The log's size once the fixture's trial, policy and accounts are written.
    var base: Int64 = 0
    let address: String

    /// - Parameter logger: where the server logs (nothing by default).
    init(logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
         configure: (inout ServerConfiguration) -> Void = { _ in }) async throws {
        fixture = try Fixture(policy: ShippedPolicies.sanetEP)
        let f = fixture
        try f.key.write(to: f.storePath + ".key")
        let usersPath = f.storePath + ".users.json"
        for (name, role, sites) in [("alice", "coordinator", ["SITE-A"]), ("bob", "coordinator", ["SITE-B"]),
                                    ("carol", "coordinator", ["SITE-A", "SITE-B"]), ("sam", "sponsor", []), ("rita", "regulator", []),
                                    ("adam", "admin", []), ("ines", "investigator", ["SITE-A"]), ("mona", "monitor", ["SITE-A"])] {
            let (token, digest) = UserDirectory.newToken()
            let signer = role == "investigator"
                ? SignerRegistration(printedName: "Dr Ines", publicKey: Data(try TrialKey(seed: Array(repeating: 21, count: 32)).publicKey).base64EncodedString(),
                                     signingSHA256: Digest.sha256Hex("ines's code")) : nil
            try f.run(.userAdd(name: name, role: role, sites: sites, tokenSHA256: digest, expiresAt: nil, signer: signer), as: "setup")
            tokens[name] = token
        }
        base = try f.size()
        var config = ServerConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 0), storePath: f.storePath,
                                         keyPath: f.storePath + ".key", usersPath: usersPath)
        configure(&config)
        server = LineServer(configuration: config, logger: logger)
        group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let g = group
        runTask = Task { try await g.run() }
        var bound: String?
        for _ in 0..<500 {
            if let local = server.localAddress {
                if let port = local.port { bound = "127.0.0.1:\(port)" } else if case .unix(let path) = config.endpoint { bound = "unix:\(path)" }
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let bound else {
            runTask.cancel()
            let why = await runTask.result
            throw TrialGateError(.internal, "server did not start: \(why)")
        }
        address = bound
    }

    /// A connected client, authenticated as `user` unless nil, from the local address `source` if given.
    func client(_ user: String?, from source: String? = nil) throws -> LineClient {
        let c = try LineClient(connect: address, from: source)
        c.setReceiveTimeout(seconds: 20)
        if let user {
            let reply = try c.request(#"{"cmd":"auth","token":"\#(tokens[user]!)"}"#)
            guard reply?.contains("\"ok\":true") == true else { throw TrialGateError(.internal, "auth failed: \(reply ?? "nil")") }
        }
        return c
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await runTask.value
    }
}

/// Runs blocking client code on its own thread, so the cooperative pool stays free for the server.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { done in
        Thread { done.resume(with: Result { try body() }) }.start()
    }
}

func reply(_ line: String?) throws -> JSONValue { try JSONParser.parse(line ?? "null") }

@Suite("The line-protocol server", .serialized)
struct ServerTests {
    @Test("pipelined requests get replies in order, each with its id")
    func pipelining() async throws {
        let s = try await ServerFixture()
        let replies: [JSONValue] = try await onThread {
            let c = try s.client("alice")
            var batch = #"{"id":"r","cmd":"register","candidate":"P-1","site":"SITE-A"}"# + "\n"
            for i in 0..<50 {
                batch += #"{"id":\#(i),"cmd":"record","kind":"ki67","candidate":"P-1","fields":{"percent":\#(i),"specimen_date":"2026-03-02","method":"manual_count"}}"# + "\n"
            }
            try c.send(Array(batch.utf8))
            return try (0..<51).map { _ in try reply(c.readLine()) }
        }
        #expect(replies[0]["id"] == "r" && replies[0]["ok"] == true)
        for i in 0..<50 {
            #expect(replies[i + 1]["id"]?.intValue == i)
            #expect(replies[i + 1]["result"]?["seq"]?.intValue == Int(s.base) + 2 + i)
        }
        try await s.stop()
    }

    @Test("thousands of pipelined requests are all answered in order while the server bounds what it buffers")
    func deepPipeline() async throws {
        let s = try await ServerFixture()
        let ids: [Int] = try await onThread {
            let c = try s.client("rita")
            let sender = Thread {
                var batch: [UInt8] = []
                for i in 0..<3000 { batch += Array(#"{"id":\#(i),"cmd":"head"}"#.utf8) + [0x0A] }
                try? c.send(batch)
            }
            sender.start()
            return try (0..<3000).map { _ in try reply(c.readLine())["id"]?.intValue ?? -1 }
        }
        #expect(ids == Array(0..<3000))
        try await s.stop()
    }

    @Test("64 concurrent clients: every acknowledged event is in the log, and the log verifies")
    func concurrentClients() async throws {
        let s = try await ServerFixture()
        let acked = try await withThrowingTaskGroup(of: [Int].self) { group in
            for client in 0..<64 {
                group.addTask {
                    try await onThread {
                        let c = try s.client("alice")
                        var seqs: [Int] = []
                        let r = try reply(c.request(#"{"cmd":"register","candidate":"C-\#(client)","site":"SITE-A"}"#))
                        if let seq = r["result"]?["seq"]?.intValue { seqs.append(seq) }
                        for _ in 0..<10 {
                            let r = try reply(c.request(#"{"cmd":"record","kind":"ki67","candidate":"C-\#(client)","fields":{"percent":5,"specimen_date":"2026-03-02","method":"manual_count"}}"#))
                            if let seq = r["result"]?["seq"]?.intValue { seqs.append(seq) }
                        }
                        return seqs
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(acked.count == 64 * 11)
        #expect(Set(acked).count == acked.count)
        try await s.stop()
        let store = try EventStore.open(path: s.fixture.storePath)
        let events = try store.events()
        let seqs = Set(events.map { Int($0.seq) })
        #expect(Set(acked).isSubset(of: seqs))
        #expect(events.filter { $0.type == .ki67Recorded }.allSatisfy { $0.actor == "alice" })
        let verify = try Dispatcher(store: store, clock: s.fixture.clock, key: { s.fixture.key }).execute(.verify(), actor: "t")
        #expect(verify["valid"] == true)
        // One signed checkpoint per committed batch, the newest covering the whole log; all checked by verify.
        let checkpoints = try store.checkpoints()
        #expect(checkpoints.last?.size == Int64(events.count))
        #expect(verify["checkpoints_checked"]?.intValue == checkpoints.count)
        #expect(checkpoints.count < events.count, "writes committed together share a checkpoint")
    }

    static let matrix: [(String, String, Bool)] = {
        let commands = [
            ("register", #"{"cmd":"register","candidate":"M-NEW","site":"SITE-A"}"#),
            ("record", #"{"cmd":"record","kind":"ki67","candidate":"M-1","fields":{"percent":5,"specimen_date":"2026-03-02","method":"manual_count"}}"#),
            ("correct", #"{"cmd":"correct","seq":"KI67","field":"percent","value":6,"reason":"typo"}"#),
            ("decide", #"{"cmd":"decide","candidate":"M-1"}"#),
            ("withdraw", #"{"cmd":"withdraw","candidate":"M-1","category":"withdrew_consent","reason":"moved"}"#),
            ("show", #"{"cmd":"show","candidate":"M-1"}"#),
            ("decisions", #"{"cmd":"decisions","site":"SITE-A"}"#),
            ("verify", #"{"cmd":"verify"}"#),
            ("replay", #"{"cmd":"replay"}"#),
            ("export", #"{"cmd":"export"}"#),
            ("policy.publish", #"{"cmd":"policy.publish","text":"policy: x\nversion: \"9\"\ncriteria:\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    when: {fact: grade, eq: G1}\n"}"#),
            ("report", #"{"cmd":"report"}"#),
            ("report.snapshot", #"{"cmd":"report.snapshot"}"#),
            ("head", #"{"cmd":"head"}"#),
            ("checkpoint", #"{"cmd":"checkpoint"}"#),
            ("proof.inclusion", #"{"cmd":"proof.inclusion","seq":3}"#),
            ("proof.consistency", #"{"cmd":"proof.consistency","from":2}"#),
            ("init", #"{"cmd":"init","trial_id":"X","log_origin":"x"}"#),
            // Streams every event, as export pages them: the same rule (a sponsor may do neither).
            ("subscribe", #"{"cmd":"subscribe","from":1}"#),
            ("queries", #"{"cmd":"queries","site":"SITE-A"}"#),
            ("query.open", #"{"cmd":"query.open","candidate":"M-1","text":"is the consent form filed?"}"#),
            ("query.answer", #"{"cmd":"query.answer","query":"QUERY","note":"filed"}"#),
            ("query.close", #"{"cmd":"query.close","query":"QUERY","resolution":"done"}"#),
            ("signoff.prepare", #"{"cmd":"signoff.prepare","decision":"DECISION","outcome":"ineligible","reason":"no data"}"#),
            ("audit-trail", #"{"cmd":"audit-trail","candidate":"M-1"}"#),
            ("export.odm", #"{"cmd":"export.odm","site":"SITE-A"}"#),
            ("export.sdtm-ie", #"{"cmd":"export.sdtm-ie","site":"SITE-A"}"#),
        ]
        let allowed: [String: Set<String>] = [
            "alice": ["register", "record", "correct", "decide", "withdraw", "show", "decisions", "queries", "query.answer", "head", "checkpoint",
                      "proof.inclusion", "proof.consistency"],
            "sam": ["show", "decisions", "queries", "verify", "replay", "report", "audit-trail", "export.odm", "export.sdtm-ie", "head", "checkpoint",
                    "proof.inclusion", "proof.consistency"],
            "rita": ["show", "decisions", "queries", "verify", "replay", "export", "subscribe", "report", "audit-trail", "export.odm", "export.sdtm-ie",
                     "head", "checkpoint", "proof.inclusion", "proof.consistency"],
            "adam": ["policy.publish", "report.snapshot", "head", "checkpoint", "proof.inclusion", "proof.consistency"],
            "ines": ["show", "decisions", "queries", "query.open", "query.close", "signoff.prepare", "head", "checkpoint", "proof.inclusion",
                     "proof.consistency"],
            // A monitor reads their site and settles queries; a report without a site is refused (every site).
            "mona": ["show", "decisions", "queries", "query.open", "query.close", "audit-trail", "export.odm", "export.sdtm-ie", "head", "checkpoint",
                     "proof.inclusion", "proof.consistency"],
        ]
        return allowed.keys.sorted().flatMap { user in commands.map { (user, $0.1, allowed[user]!.contains($0.0)) } }
    }()

    @Test("role × command: each role may run exactly its commands", arguments: matrix)
    func authorisationMatrix(user: String, request: String, allowed: Bool) async throws {
        let s = try await ServerFixture()
        try s.fixture.run(.register(candidate: "M-1", fields: ["site": "SITE-A"]), as: "setup")
        let ki67 = try s.fixture.run(.record(kind: "ki67", candidate: "M-1", fields: ScreeningTests.ki67), as: "setup")["seq"]!.intValue!
        // A decision of M-1, and the review queries it opens.
        let decided = try s.fixture.run(.decide(candidate: "M-1"), as: "setup")
        let request = request.replacingOccurrences(of: #""KI67""#, with: "\(ki67)")
            .replacingOccurrences(of: #""DECISION""#, with: "\(decided["seq"]!.intValue!)")
            .replacingOccurrences(of: #""QUERY""#, with: "\(decided["queries_opened"]!.arrayValue!.first!.intValue!)")
        let r = try await onThread { try reply(s.client(user).request(request)) }
        if allowed {
            #expect(r["error"]?["code"] != "forbidden", "\(user) \(request): \(r)")
            #expect(r["ok"] == true, "\(user) \(request): \(r)")
        } else {
            #expect(r["ok"] == false && r["error"]?["code"] == "forbidden", "\(user) \(request): \(r)")
        }
        try await s.stop()
    }

    @Test("the server saves a signed report snapshot on its own as the log grows, and reports fold on from it")
    func automaticReportSnapshots() async throws {
        let s = try await ServerFixture { $0.reportSnapshotInterval = 10 }
        let sizes: [Int64] = try await onThread {
            let alice = try s.client("alice")
            for i in 0..<12 { _ = try alice.request(#"{"cmd":"register","candidate":"AUTO-\#(i)","site":"SITE-A"}"#) }
            let store = try EventStore.open(path: s.fixture.storePath)
            defer { store.close() }
            for _ in 0..<1000 {
                if let sizes = try? store.reportSnapshotSizes(), !sizes.isEmpty { return sizes }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return []
        }
        #expect(!sizes.isEmpty && sizes[0] >= 10, "\(sizes)")
        let (state, snapshot, _) = try s.fixture.dispatcher.reportState(through: try s.fixture.store.head().size)
        // The server may save the next one (at 20) while this runs: the report folds on from one it saved.
        let saved = try s.fixture.store.reportSnapshotSizes()
        #expect(snapshot.map { saved.contains($0) && $0 >= sizes[0] } == true, "\(String(describing: snapshot)) \(saved)")
        #expect(state.candidates.count == 12)
        let r = try await onThread { try reply(s.client("sam").request(#"{"cmd":"report"}"#)) }
        #expect(r["result"]?["consort"]?["assessed"] == 12)
        try await s.stop()
    }

    @Test("WAL checkpoints run beside the writer: its commits copy nothing, a thread copies the WAL in steps, and the WAL stays bounded")
    func walCheckpointsBesideTheWriter() async throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let (path, key) = (f.storePath, f.key)
        let base = try f.size()
        let settings = WALCheckpointer.Settings(step: 20, limit: 200)
        let workers = try Workers(readers: 1, maxBatch: 16, walCheckpoints: settings,
                                  makeDispatcher: { Dispatcher(store: try EventStore.open(path: path), clock: SystemClock(), key: { key }) },
                                  onCommit: { _ in })
        let alice = Principal(name: "alice", role: .coordinator, sites: ["SITE-A"])
        let walPath = path + "-wal"
        var walBytes: [Int] = []
        for i in 0..<300 {
            try await withCheckedThrowingContinuation { (written: CheckedContinuation<Void, Error>) in
                workers.writes.submit(.register(candidate: "W-\(i)", fields: ["site": "SITE-A"]), as: alice) { result in
                    written.resume(with: result.map { _ in () }.mapError { $0 as Error })
                }
            }
            walBytes.append(((try? FileManager.default.attributesOfItem(atPath: walPath))?[.size] as? Int) ?? 0)
        }
        var counts = workers.walCheckpointer?.copiedSoFar
        for _ in 0..<500 where (counts?.threadCheckpoints ?? 0) == 0 {
            try await Task.sleep(for: .milliseconds(10))
            counts = workers.walCheckpointer?.copiedSoFar
        }
        await workers.stop()
        // The thread copied the WAL in steps; the writer's own commits did not (SQLite's automatic checkpoint is off on
        // its connection: at 10,000 frames it would not have run at all here, and the WAL would hold every commit).
        #expect((counts?.threadCheckpoints ?? 0) > 0 && (counts?.threadFrames ?? 0) > 0, "\(String(describing: counts))")
        // 300 commits write far more than 200 frames; the WAL started over instead of growing (a frame is a 4 KiB page
        // and a 24-byte header; one batch may be committed past the limit before the WAL starts over).
        let frameBytes = 4096 + 24
        #expect(walBytes.max()! <= 32 + 2 * settings.limit * frameBytes, "WAL up to \(walBytes.max()!) bytes")
        // Every write is there, in one chain.
        let store = try EventStore.open(path: path)
        defer { store.close() }
        #expect(try store.head().size == base + 300)
        #expect(try store.structuralProblems().isEmpty)
        #expect(try store.synchronousSetting() == 2)
    }

    #if os(Linux)
    @Test("the server's worker threads carry their names for the operating system (top -H, /proc, perf)")
    func threadNames() async throws {
        let s = try await ServerFixture { $0.reportSnapshotInterval = 10 }
        // The threads name themselves as they start.
        let expected: Set<String> = ["tg-writer", "tg-reader-0", "tg-reader-1", "tg-snapshots"]
        var names: Set<String> = []
        for _ in 0..<200 {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            names = Set(tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
            if names.isSuperset(of: expected) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(names.isSuperset(of: expected), "\(names.sorted())")
        try await s.stop()
    }
    #endif

    @Test("a coordinator of site B cannot touch a candidate of site A; actors are the authenticated names")
    func siteScope() async throws {
        let s = try await ServerFixture()
        let (a, b): (JSONValue, JSONValue) = try await onThread {
            let alice = try s.client("alice")
            _ = try alice.request(#"{"cmd":"register","candidate":"S-1","site":"SITE-A"}"#)
            let bob = try s.client("bob")
            let b = try reply(bob.request(#"{"cmd":"record","kind":"ki67","candidate":"S-1","fields":{"percent":5,"specimen_date":"2026-03-02","method":"manual_count"}}"#))
            let a = try reply(alice.request(#"{"cmd":"show","candidate":"S-1"}"#))
            return (a, b)
        }
        #expect(b["error"]?["code"] == "forbidden")
        #expect(a["result"]?["history"]?.arrayValue?.count == 1)
        #expect(a["result"]?["history"]?.arrayValue?.first?["actor"] == "alice")
        try await s.stop()
    }

    @Test("a show answered from a reader's kept bytes reflects every write acknowledged before it, from any connection")
    func showsAreCurrent() async throws {
        let s = try await ServerFixture()
        try await onThread {
            let alice = try s.client("alice"), sam = try s.client("sam"), bob = try s.client("bob")
            let registered = try reply(alice.request(#"{"cmd":"register","candidate":"R-1","site":"SITE-A"}"#))
            let registration = registered["result"]?["seq"]
            for i in 0..<40 {
                let ack = try reply(alice.request(#"{"cmd":"record","kind":"ki67","candidate":"R-1","fields":{"percent":\#(i),"specimen_date":"2026-03-02","method":"manual_count"}}"#))
                let seq = ack["result"]?["seq"]
                // Twice each, so that both reader threads have a kept view to check, and once with an id to splice.
                for (who, client) in [("sam", sam), ("alice", alice), ("sam", sam), ("alice", alice)] {
                    let shown = try reply(client.request(#"{"cmd":"show","candidate":"R-1"}"#))
                    #expect(shown["result"]?["as_of"]?["last_seq"] == seq, "\(who) after write \(i)")
                    #expect(shown["result"]?["facts"]?["ki67.percent"]?["value"] == .number(Double(i)))
                }
                let withID = try reply(sam.request(#"{"id":"r\"\#(i)\"\t","cmd":"show","candidate":"R-1"}"#))
                #expect(withID["id"] == .string("r\"\(i)\"\t") && withID["result"]?["as_of"]?["last_seq"] == seq)
            }
            // The candidate moves to site B (by a coordinator of both): the site rule must see it at once, though both
            // readers kept its view at site A.
            let moved = try reply(s.client("carol").request(#"{"cmd":"correct","seq":\#(Int(registration?.intValue ?? 0)),"field":"site","value":"SITE-B","reason":"registered at the wrong site"}"#))
            #expect(moved["ok"] == true, "\(moved)")
            for _ in 0..<2 {
                #expect(try reply(alice.request(#"{"cmd":"show","candidate":"R-1"}"#))["error"]?["code"] == "forbidden")
                #expect(try reply(bob.request(#"{"cmd":"show","candidate":"R-1"}"#))["result"]?["facts"]?["candidate.site"]?["value"] == "SITE-B")
            }
        }
        try await s.stop()
    }

    @Test("over-long, malformed and unauthenticated lines get error replies and the connection stays usable")
    func hostileLines() async throws {
        let s = try await ServerFixture { $0.maxLineBytes = 1024 }
        let replies: [JSONValue] = try await onThread {
            let c = try s.client(nil)
            var out: [JSONValue] = []
            out.append(try reply(c.request(#"{"cmd":"head"}"#)))
            try c.send(Array(String(repeating: "x", count: 200_000).utf8) + [0x0A])
            out.append(try reply(c.readLine()))
            try c.send([0x7B, 0xFF, 0xFE, 0x7D, 0x0A])
            out.append(try reply(c.readLine()))
            out.append(try reply(c.request(String(repeating: "[", count: 500))))
            out.append(try reply(c.request(#"{"cmd":"auth","token":"\#(s.tokens["sam"]!)"}"#)))
            out.append(try reply(c.request(#"{"id":1,"cmd":"head"}"#)))
            return out
        }
        #expect(replies[0]["error"]?["code"] == "unauthenticated")
        #expect(replies[1]["error"]?["code"] == "line_too_long")
        #expect(replies[2]["error"]?["code"] == "invalid_json")
        #expect(replies[3]["error"]?["code"] == "line_too_long" || replies[3]["error"]?["code"] == "invalid_json")
        #expect(replies[4]["ok"] == true)
        #expect(replies[5]["id"] == 1 && replies[5]["ok"] == true)
        try await s.stop()
    }

    @Test("failed authentications are rate-limited per peer")
    func authRateLimit() async throws {
        let s = try await ServerFixture { $0.authFailureLimit = 3 }
        let codes: [String] = try await onThread {
            var codes: [String] = []
            for _ in 0..<4 {
                let c = try s.client(nil)
                codes.append(try reply(c.request(#"{"cmd":"auth","token":"wrong"}"#))["error"]?["code"]?.stringValue ?? "")
            }
            return codes
        }
        #expect(codes == ["auth_failed", "auth_failed", "auth_failed", "rate_limited"])
        try await s.stop()
    }

    @Test("idle connections are closed; the connection limit refuses extra clients with a reply")
    func idleAndLimit() async throws {
        let s = try await ServerFixture { $0.idleTimeout = .milliseconds(300); $0.maxConnections = 2 }
        let (idleEnded, refused): (Bool, String?) = try await onThread {
            let a = try s.client("sam")
            let b = try s.client("sam")
            let c = try LineClient(connect: s.address)
            c.setReceiveTimeout(seconds: 5)
            let refused = try c.readLine()
            _ = b
            Thread.sleep(forTimeInterval: 0.8)
            let last = try? reply(a.readLine())
            let ended = last?["error"]?["code"] == "idle_timeout" && (try? a.readLine()) == nil
            return (ended, refused)
        }
        #expect(refused?.contains("too_many_connections") == true)
        #expect(idleEnded)
        try await s.stop()
    }

    @Test("the server also listens on a Unix-domain socket")
    func unixSocket() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tg-\(UUID().uuidString.prefix(8)).sock").path
        let s = try await ServerFixture { $0.endpoint = .unix(path: path) }
        let r = try await onThread { () -> JSONValue in
            let c = try LineClient(connect: "unix:\(path)")
            c.setReceiveTimeout(seconds: 10)
            _ = try c.request(#"{"cmd":"auth","token":"\#(s.tokens["rita"]!)"}"#)
            return try reply(c.request(#"{"id":1,"cmd":"head"}"#))
        }
        #expect(r["ok"] == true && r["result"]?["size"]?.intValue == Int(s.base))
        try await s.stop()
    }

    @Test("a reader's encoded result spliced into a reply line is byte for byte the canonical encoding of the whole reply")
    func encodedReplyLine() throws {
        let f = try Fixture()
        let config = ServerConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 0), storePath: f.storePath,
                                         keyPath: f.storePath + ".key", usersPath: f.storePath + ".users.json")
        let server = LineServer(configuration: config, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let who = Principal(name: "rita", role: .regulator, sites: [])
        let session = server.lineProtocol(peer: Peer(name: "p", source: .local))
        let results: [JSONValue] = [["b": 1, "a": ["x", "\u{1F600}\n\"q\""], "é": .null], .array([]), "text", 1.5, [:]]
        let ids: [JSONValue?] = [nil, 7, "req-\"1\"\t", ["nested": [1, 2]], .null, -0.25]
        for result in results {
            for id in ids {
                var reply: [String: JSONValue] = ["ok": true, "result": result]
                if let id { reply["id"] = id }
                let whole = CanonicalJSON.encode(.object(reply))
                let request = Request(command: .show(candidate: "X", asOfSeq: nil, asOfTime: nil), id: id, caller: .principal(who))
                let spliced = session.reply(to: .success(CanonicalJSON.encode(result)), for: request)
                #expect(spliced == whole, "id \(String(describing: id)), result \(result)")
                #expect(Envelope.success(id: id, result: result) == whole)
            }
        }
        let failure = TrialGateError(.unknownCandidate, "no candidate \"X\" is registered")
        let request = Request(command: .show(candidate: "X", asOfSeq: nil, asOfTime: nil), id: 3, caller: .principal(who))
        #expect(session.reply(to: .failure(failure), for: request)
                == CanonicalJSON.encode(["error": ["code": "unknown_candidate", "message": "no candidate \"X\" is registered"], "id": 3, "ok": false]))
    }

    @Test("plain TCP beyond loopback is refused unless explicitly allowed")
    func insecureListenRefused() throws {
        let f = try Fixture()
        try f.key.write(to: f.storePath + ".key")
        let config = ServerConfiguration(endpoint: .tcp(host: "0.0.0.0", port: 0), storePath: f.storePath,
                                         keyPath: f.storePath + ".key", usersPath: f.storePath + ".users.json")
        let server = LineServer(configuration: config, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        #expect { _ = try server.prepare() } throws: { ($0 as? TrialGateError)?.code.rawValue == "insecure_listen" }
    }

    @Test("a subscriber gets the catch-up, then live events as they commit")
    func subscribe() async throws {
        let s = try await ServerFixture()
        let lines: [JSONValue] = try await onThread {
            let sub = try s.client("rita")
            var got = [try reply(sub.request(#"{"id":"s","cmd":"subscribe","from":2}"#))]
            got.append(try reply(sub.readLine()))  // event 2 (policy)
            for _ in 3...s.base { _ = try sub.readLine() }  // the accounts
            let alice = try s.client("alice")
            _ = try alice.request(#"{"cmd":"register","candidate":"L-1","site":"SITE-A"}"#)
            got.append(try reply(sub.readLine()))  // live
            return got
        }
        #expect(lines[0]["result"]?["subscribed"] == true)
        #expect(lines[1]["event"]?["seq"] == 2)
        #expect(lines[2]["event"]?["seq"]?.intValue == Int(s.base) + 1 && lines[2]["event"]?["actor"] == "alice")
        try await s.stop()
    }

    @Test("a subscriber also gets what another process or node appended, within a look of the account watcher")
    func subscribeSeesOtherWriters() async throws {
        let s = try await ServerFixture()
        let line: JSONValue = try await onThread {
            let sub = try s.client("rita")
            _ = try reply(sub.request(#"{"id":"s","cmd":"subscribe","from":\#(s.base + 1)}"#))
            // Written by another dispatcher on its own connection, as the command line or the leading node would.
            _ = try s.fixture.run(.register(candidate: "O-1", fields: ["site": "SITE-A"]), as: "elsewhere")
            return try reply(sub.readLine())
        }
        #expect(line["event"]?["seq"]?.intValue == Int(s.base) + 1 && line["event"]?["actor"] == "elsewhere")
        try await s.stop()
    }

    @Test("a subscriber that never reads and a byte-at-a-time client do not hold up other clients' writes")
    func slowClientsDoNotStallOthers() async throws {
        let s = try await ServerFixture()
        let (acked, elapsed): (Int, Double) = try await onThread {
            // A subscriber that stops reading from the start, with plenty of log to send it.
            for i in 0..<300 { _ = try? s.fixture.run(.register(candidate: "F-\(i)", fields: ["site": "SITE-A"]), as: "setup") }
            let stuck = try s.client("rita")
            try stuck.send(line: #"{"cmd":"subscribe","from":1}"#)
            // A slowloris: an unfinished line, one byte at a time.
            let slow = try s.client("alice")
            for byte in Array(#"{"cmd":"he"#.utf8) { try slow.send([byte]); Thread.sleep(forTimeInterval: 0.01) }
            // Meanwhile an honest coordinator writes.
            let honest = try s.client("alice")
            let start = Date()
            var acked = 0
            _ = try honest.request(#"{"cmd":"register","candidate":"H-1","site":"SITE-A"}"#)
            for _ in 0..<200 {
                let r = try reply(honest.request(#"{"cmd":"record","kind":"ki67","candidate":"H-1","fields":{"percent":5,"specimen_date":"2026-03-02","method":"manual_count"}}"#))
                if r["ok"] == true { acked += 1 }
            }
            _ = stuck
            return (acked, Date().timeIntervalSince(start))
        }
        #expect(acked == 200)
        #expect(elapsed < 20, "200 writes took \(elapsed) s")
        try await s.stop()
    }

    @Test("graceful shutdown while clients write loses nothing that was acknowledged")
    func shutdownUnderLoad() async throws {
        let s = try await ServerFixture()
        let writers = Task {
            try await withThrowingTaskGroup(of: [Int].self) { group in
                for client in 0..<8 {
                    group.addTask {
                        try await onThread {
                            var seqs: [Int] = []
                            guard let c = try? s.client("alice") else { return seqs }
                            if let seq = try? reply(c.request(#"{"cmd":"register","candidate":"G-\#(client)","site":"SITE-A"}"#))["result"]?["seq"]?.intValue { seqs.append(seq) }
                            while true {
                                guard let line = try? c.request(#"{"cmd":"record","kind":"ki67","candidate":"G-\#(client)","fields":{"percent":5,"specimen_date":"2026-03-02","method":"manual_count"}}"#),
                                    let seq = try? reply(line)["result"]?["seq"]?.intValue else { return seqs }
                                seqs.append(seq)
                            }
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        try await s.stop()
        let acked = try await writers.value
        #expect(acked.count > 8)
        let store = try EventStore.open(path: s.fixture.storePath)
        let present = Set(try store.events().map { Int($0.seq) })
        #expect(Set(acked).isSubset(of: present))
        #expect(try Dispatcher(store: store, clock: s.fixture.clock, key: { s.fixture.key }).execute(.verify(), actor: "t")["valid"] == true)
    }
}
