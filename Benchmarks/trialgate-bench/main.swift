// Benchmarks for docs/performance.md. Run: swift run -c release trialgate-bench [--dir DIR] [--events N]
// Tamper evidence: swift run -c release trialgate-bench --merkle --events 1000000
//
// Durable-commit cost swings with the disk's other tenants, so every durable figure is measured next to
// this machine's own cost of one durable SQLite commit, taken in the same run, and reported as a ratio.
import CSQLite
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
import TrialGateServer
import TrialGateService
import TrialGateStore

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1000) }
func us(_ s: Double) -> String { String(format: "%.1f µs", s * 1e6) }
func rate(_ n: Int, _ s: Double) -> String { String(format: "%.0f/s", Double(n) / s) }

var args = CommandLine.arguments.dropFirst()
var dir = FileManager.default.currentDirectoryPath + "/.bench-tmp"
var logEvents = 100_000
var keep = false
while let a = args.popFirst() {
    if a == "--keep" { keep = true }
    if a == "--dir", let v = args.popFirst() { dir = v }
    if a == "--events", let v = args.popFirst(), let n = Int(v) { logEvents = n }
}
if CommandLine.arguments.contains("--fsync-only") {
    // One figure: this machine's durable SQLite commit latency right now.
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var samples: [Double] = []
    for _ in 0..<5 { samples.append(fsyncBaseline(100)) }
    samples.sort()
    print(String(format: "fsync_commit_ms median=%.3f min=%.3f max=%.3f", samples[2] * 1000, samples[0] * 1000, samples[4] * 1000))
    exit(0)
}
if let i = CommandLine.arguments.firstIndex(of: "--load"), i + 5 < CommandLine.arguments.count {
    // Load generator for a running server: --load ADDR TOKEN OP CONNECTIONS SECONDS
    // OP: append (record ki67), read (show a candidate), read-mixed (show, with a new candidate every 20 requests, as
    // append does), decide. One request at a time per connection.
    let a = CommandLine.arguments
    let (address, token, op, connections_, duration) = (a[i + 1], a[i + 2], a[i + 3], Int(a[i + 4])!, Double(a[i + 5])!)
    let today = SystemClock().now().date.description
    // One thread multiplexes every connection with poll(2), as redis-benchmark does with its event loop: a thread per connection
    // would spend the machine's two cores on context switches that the server then does not get.
    final class Connection {
        let client: LineClient
        let index: Int
        var buffer: [UInt8] = []
        /// Lines still to send before the next timed request: a new candidate's registration and first record.
        var script: [String] = []
        var timed = false
        var started: UInt64 = 0
        var sent = 0
        var round = 0
        var latencies: [Double] = []
        var failed = 0
        var done = false
        init(client: LineClient, index: Int) { self.client = client; self.index = index }
    }
    let runID = UInt32.random(in: 0...UInt32.max)
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(duration * 1e9)
    var connections: [Connection] = []
    var setupErrors = 0
    for c in 0..<connections_ {
        do {
            let client = try LineClient(connect: address)
            guard try client.request(#"{"cmd":"auth","token":"\#(token)"}"#)?.contains("\"ok\":true") == true else { setupErrors += 1; continue }
            let fd = client.socketDescriptor
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            connections.append(Connection(client: client, index: c))
        } catch {
            setupErrors += 1
        }
    }
    /// Candidates each connection registers before a `read` run and then shows in turn: reads only, as Redis's `GET`
    /// benchmark is, over a working set of 4 × connections candidates.
    let readSet = 4
    /// When the first timed request was sent: a `read` run is timed from there, after its connections' set-up.
    var timedFrom: UInt64?
    /// Sends the connection's next line: a candidate gets 20 requests, then the connection moves to a new one
    /// (screening histories are tens of events long, not thousands). A `read` run shows its own few candidates.
    func sendNext(_ k: Connection) {
        func candidate(_ round: Int) -> String { "LOAD-\(runID)-\(k.index)-\(round)" }
        func record(_ candidate: String) -> String {
            #"{"cmd":"record","kind":"ki67","candidate":"\#(candidate)","fields":{"percent":8,"specimen_date":"\#(today)","method":"manual_count"}}"#
        }
        /// A new candidate's registration and first record.
        func opening(_ candidate: String) -> [String] {
            [#"{"cmd":"register","candidate":"\#(candidate)","site":"SITE-01"}"#, record(candidate)]
        }
        if k.script.isEmpty {
            guard DispatchTime.now().uptimeNanoseconds < deadline else { k.done = true; return }
            if op == "read" {
                if k.round == 0 {
                    for r in 0..<readSet { k.script += opening(candidate(r)) }
                    k.round = readSet
                }
                k.script.append(#"{"cmd":"show","candidate":"\#(candidate(k.sent % readSet))"}"#)
            } else {
                if k.sent % 20 == 0 {
                    k.script = opening(candidate(k.round))
                    k.round += 1
                }
                let current = candidate(k.round - 1)
                switch op {
                case "read-mixed": k.script.append(#"{"cmd":"show","candidate":"\#(current)"}"#)
                case "decide": k.script.append(#"{"cmd":"decide","candidate":"\#(current)"}"#)
                default: k.script.append(record(current))
                }
            }
            k.sent += 1
        }
        let line = k.script.removeFirst()
        k.timed = k.script.isEmpty
        k.started = DispatchTime.now().uptimeNanoseconds
        if k.timed && timedFrom == nil { timedFrom = k.started }
        do { try k.client.send(line: line) } catch { k.failed += 1; k.done = true }
    }
    let okPrefix = Array(#"{"ok":true,"#.utf8)
    let started = DispatchTime.now().uptimeNanoseconds
    for k in connections { sendNext(k) }
    var fds = connections.map { pollfd(fd: $0.client.socketDescriptor, events: Int16(POLLIN), revents: 0) }
    var chunk = [UInt8](repeating: 0, count: 65536)
    var open = connections.filter { !$0.done }.count
    while open > 0 {
        guard poll(&fds, nfds_t(fds.count), 1000) > 0 else { continue }
        for i in fds.indices where fds[i].revents != 0 {
            fds[i].revents = 0
            let k = connections[i]
            if k.done { continue }
            while true {
                let got = chunk.withUnsafeMutableBytes { recv(k.client.socketDescriptor, $0.baseAddress, $0.count, 0) }
                if got > 0 { k.buffer.append(contentsOf: chunk[0..<got]); continue }
                if got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { if !k.done { k.failed += 1; k.done = true; open -= 1 } }
                break
            }
            while !k.done, let nl = k.buffer.firstIndex(of: 0x0A) {
                let reply = k.buffer[..<nl]
                if k.timed { k.latencies.append(Double(DispatchTime.now().uptimeNanoseconds - k.started) / 1e6) }
                // Replies are canonical JSON (keys in order) and the generator sends no ids, so a success starts with
                // `{"ok":true,` and an error with `{"error":`: the prefix tells, and the rest is not decoded.
                if !reply.starts(with: okPrefix) { k.failed += 1 }
                k.buffer.removeSubrange(...nl)
                sendNext(k)
                if k.done { open -= 1 }
            }
            if k.done { fds[i].fd = -1 }
        }
    }
    final class Tally {
        var latencies: [Double] = []
        var errors = 0
    }
    let tally = Tally()
    tally.errors = setupErrors
    for k in connections { tally.latencies += k.latencies; tally.errors += k.failed }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - (op == "read" ? timedFrom ?? started : started)) / 1e9
    let latencies = tally.latencies.sorted()
    let errors = tally.errors
    func pct(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    print(String(format: "op=%@ connections=%d requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d p90_ms=%.3f p999_ms=%.3f max_ms=%.3f",
                 op, connections_, latencies.count, Double(latencies.count) / elapsed, pct(0.5), pct(0.99), errors,
                 pct(0.9), pct(0.999), latencies.last ?? 0))
    exit(0)
}
if let i = CommandLine.arguments.firstIndex(of: "--stages"), i + 1 < CommandLine.arguments.count {
    // Time each stage of verification separately over an existing store.
    let store = try EventStore.open(path: CommandLine.arguments[i + 1])
    var rows: [StoredRow] = []
    let tRead = try seconds { try store.forEachRow { rows.append($0) } }
    var events: [Event] = []
    let tParse = try seconds { events = try rows.map { try $0.event() } }
    let tEncode = seconds { for e in events { _ = e.canonicalBody } }
    let tHash = seconds { for r in rows { _ = Digest.sha256Hex(r.body) } }
    var state = LogState()
    let tApply = try seconds { for e in events { try state.apply(e) } }
    var auditor = LogAuditor()
    let tAudit = seconds { for (e, r) in zip(events, rows) { auditor.feed(e, storedBody: r.body) }; auditor.finish() }
    let n = Double(rows.count)
    for (name, t) in [("read", tRead), ("parse", tParse), ("encode", tEncode), ("hash", tHash), ("apply", tApply), ("audit (all checks)", tAudit)] {
        print("\(name): \(String(format: "%.1f", t / n * 1e6)) µs/event")
    }
    exit(0)
}
try? FileManager.default.removeItem(atPath: dir)
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }

/// One durable SQLite commit, raw: WAL, synchronous=FULL, one small row per transaction.
@MainActor func fsyncBaseline(_ n: Int) -> Double {
    let path = dir + "/baseline-\(UUID().uuidString).sqlite"
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);", nil, nil, nil)
    let payload = String(repeating: "x", count: 400)
    return seconds {
        for i in 0..<n {
            sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO t VALUES (\(i), '\(payload)'); COMMIT;", nil, nil, nil)
        }
    } / Double(n)
}

@MainActor func freshDispatcher(_ name: String) throws -> (Dispatcher, EventStore) {
    let store = try EventStore.create(path: dir + "/\(name).sqlite")
    let key = try TrialKey(seed: Array(repeating: 9, count: 32))
    let d = Dispatcher(store: store, clock: SystemClock(), key: { key })
    _ = try d.execute(.initialise(trialID: "BENCH", logOrigin: "trialgate.bench/BENCH"), actor: "bench")
    _ = try d.execute(.policyPublish(text: ShippedPolicies.sanetEP, file: "policy"), actor: "bench")
    return (d, store)
}

let today = SystemClock().now().date
let scenario = DemoScenario(today: today)
let template = scenario.candidates[0]  // an eligible candidate: register, 5 records, decide

/// The commands of one synthetic candidate, renamed.
@MainActor func commands(for id: String) -> [Command] {
    template.steps.compactMap { step -> Command? in
        guard case .command(let c) = step else { return nil }
        switch c {
        case .register(_, let f): return .register(candidate: id, fields: f)
        case .record(let k, _, let f): return .record(kind: k, candidate: id, fields: f)
        case .decide: return .decide(candidate: id)
        default: return c
        }
    }
}

if let i = CommandLine.arguments.firstIndex(of: "--report"), i + 1 < CommandLine.arguments.count, let total = Int(CommandLine.arguments[i + 1]) {
    // A report over a log of `total` events, nine per candidate (register, clinical, imaging, three Ki-67,
    // SSTR, model score, a decision).
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
    let (d, store) = try freshDispatcher("report")
    var built: Int64 = 2
    var n = 0
    /// Appends candidates (nine events each) until the log has `total` events.
    func grow(to total: Int64) throws {
        while built < total {
            var batch: [(command: Command, actor: String)] = []
            while batch.count < 1000 && built + Int64(batch.count) < total {
                let id = "R-\(n)"
                for c in commands(for: id) where c.name != "decide" { batch.append((c, "bench")) }
                let ki67: JSONValue = ["percent": 9, "specimen_date": .string(today.description), "method": "manual_count"]
                batch.append((.record(kind: "ki67", candidate: id, fields: ki67), "bench"))
                batch.append((.record(kind: "ki67", candidate: id, fields: ki67), "bench"))
                batch.append((.decide(candidate: id), "bench"))
                n += 1
            }
            _ = try d.executeBatch(batch)
            built = try store.head().size
        }
    }
    let buildTime = try seconds { try grow(to: Int64(total)) }
    print("built \(built) events, \(n) candidates in \(String(format: "%.1f", buildTime)) s")
    let reader = Dispatcher(store: try EventStore.open(path: dir + "/report.sqlite"), clock: SystemClock(),
                            key: { try TrialKey(seed: Array(repeating: 9, count: 32)) })
    func report(_ format: String, _ what: String) throws -> [UInt8] {
        var out: [UInt8] = []
        let t = try seconds {
            out = CanonicalJSON.encode(try reader.execute(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: format), actor: "bench"))
        }
        print("report (\(format)) over \(built) events, \(n) candidates, \(what): \(String(format: "%.2f", t)) s, \(out.count) bytes")
        return out
    }
    func snapshot() throws {
        var r: JSONValue = .null
        let t = try seconds { r = try reader.execute(.reportSnapshot, actor: "bench") }
        let from = r["folded_from"]?.intValue.map { "the snapshot at \($0)" } ?? "the first event"
        print("report.snapshot at \(built) events, folded from \(from): \(String(format: "%.2f", t)) s, \(r["bytes"]?.intValue ?? 0) bytes")
    }
    let coldJSON = try report("json", "folded from the first event")
    let coldCSV = try report("csv", "folded from the first event")
    try snapshot()
    let warmJSON = try report("json", "snapshot at the head")
    let warmCSV = try report("csv", "snapshot at the head")
    print("same bytes with and without the snapshot: JSON \(coldJSON == warmJSON), CSV \(coldCSV == warmCSV)")
    let snapshotAt = built
    for tail in [10_000, 100_000] {
        try grow(to: snapshotAt + Int64(tail))
        _ = try report("json", "snapshot \(built - snapshotAt) events back")
    }
    try snapshot()
    exit(0)
}
if CommandLine.arguments.contains("--merkle") {
    // The tamper-evidence figures: the tree's cost on appends (on vs off, interleaved rounds), inclusion proofs
    // on a large log, and verification of its exported bundle.
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
    print("TrialGate Merkle benchmark, \(ProcessInfo.processInfo.processorCount) cores, store in \(dir)")
    let ki67: JSONValue = ["percent": 8, "specimen_date": .string(today.description), "method": "manual_count"]
    var totals: [Bool: (single: Double, batched: Double)] = [true: (0, 0), false: (0, 0)]
    let rounds = 4, singles = 150, batches = 10, perBatch = 100
    for round in 0..<rounds {
        for tree in (round % 2 == 0 ? [true, false] : [false, true]) {
            let (d, store) = try freshDispatcher("tree-\(tree)-\(round)")
            store.maintainsMerkleTree = tree
            for c in 0..<50 { _ = try d.execute(.register(candidate: "M-\(c)", fields: ["site": "SITE-01"]), actor: "bench") }
            let one = try seconds { for i in 0..<singles { _ = try d.execute(.record(kind: "ki67", candidate: "M-\(i % 50)", fields: ki67), actor: "bench") } }
            let many = try seconds {
                for b in 0..<batches {
                    _ = try d.executeBatch((0..<perBatch).map { i in (Command.record(kind: "ki67", candidate: "M-\((b + i) % 50)", fields: ki67), "bench") })
                }
            }
            totals[tree]!.single += one
            totals[tree]!.batched += many
        }
    }
    let nSingle = Double(rounds * singles), nBatched = Double(rounds * batches * perBatch)
    for tree in [false, true] {
        print("tree \(tree ? "on " : "off"): single durable append \(ms(totals[tree]!.single / nSingle)) (\(String(format: "%.0f/s", nSingle / totals[tree]!.single))); batched 100/commit \(String(format: "%.0f/s", nBatched / totals[tree]!.batched))")
    }
    let signKey = try TrialKey(seed: Array(repeating: 6, count: 32))
    let perSign = seconds { for i in 0..<2000 { _ = signKey.sign(Array("trialgate.bench/BENCH\n\(i)\nys9Q5/X53qhHUPdMol7spRxXh6CK4h7mO7QNZlBVOcE=\n".utf8)) } } / 2000
    print("of which one checkpoint signature (Ed25519 sign of the note text): \(us(perSign)) per write transaction")
    print(String(format: "tree cost: single appends %+.1f %%, batched appends %+.1f %% (throughput, on vs off)",
                 (nSingle / totals[true]!.single / (nSingle / totals[false]!.single) - 1) * 100,
                 (nBatched / totals[true]!.batched / (nBatched / totals[false]!.batched) - 1) * 100))

    // A large log built in batches of 1,000 commands (a checkpoint per batch and per decision).
    let (d, store) = try freshDispatcher("large")
    var built: Int64 = 2
    var next = 0
    let buildTime = try seconds {
        while built < Int64(logEvents) {
            var batch: [(command: Command, actor: String)] = []
            while batch.count < 1000 && built + Int64(batch.count) < Int64(logEvents) {
                for c in commands(for: "L-\(next)") { batch.append((c, "bench")) }
                next += 1
            }
            _ = try d.executeBatch(batch)
            built = try store.head().size
        }
    }
    print("built \(built) events (\(next) decisions, \(try store.checkpoints().count) checkpoints) in \(String(format: "%.1f", buildTime)) s")
    let reader = Dispatcher(store: try EventStore.open(path: dir + "/large.sqlite"), clock: SystemClock(), key: { throw ServiceError("no", "no key") })
    var rng = SystemRandomNumberGenerator()
    var samples: [Double] = []
    for _ in 0..<5000 {
        let seq = Int64.random(in: 1...built, using: &rng)
        samples.append(try seconds { _ = try reader.execute(.proofInclusion(seq: seq, size: nil), actor: "bench") })
    }
    samples.sort()
    print("inclusion proof (command, from the stored tree) in a \(built)-event log: mean \(us(samples.reduce(0, +) / Double(samples.count))), p50 \(us(samples[samples.count / 2])), p99 \(us(samples[samples.count * 99 / 100])), max \(us(samples.last!))")
    var consistency: [Double] = []
    for _ in 0..<1000 {
        let from = Int64.random(in: 1...built, using: &rng)
        consistency.append(try seconds { _ = try reader.execute(.proofConsistency(from: from, to: nil), actor: "bench") })
    }
    consistency.sort()
    print("consistency proof: mean \(us(consistency.reduce(0, +) / Double(consistency.count))), p99 \(us(consistency[consistency.count * 99 / 100]))")
    // What one signature check costs here: verification checks one per decision and one per checkpoint.
    let sigKey = try TrialKey(seed: Array(repeating: 5, count: 32))
    let message = Array(repeating: UInt8(0x61), count: 1500)
    let sig = sigKey.sign(message)
    let perVerify = seconds { for _ in 0..<2000 { _ = SignatureCheck.verify(signature: sig, message: message, publicKey: sigKey.publicKey) } } / 2000
    print("one Ed25519 verification (1.5 kB message): \(us(perVerify))")
    let bundle = dir + "/bundle"
    let exportTime = try seconds { _ = try reader.exportBundle(to: DirectoryBundleSink(root: URL(fileURLWithPath: bundle)), exportedAt: SystemClock().now()) }
    print("export --out of \(built) events: \(String(format: "%.2f", exportTime)) s")
    var result = BundleVerification()
    let verifyTime = seconds { result = BundleVerifier.verify(directory: bundle) }
    print("bundle verification (Swift, every check incl. re-deriving \(result.decisions) decisions, \(result.signaturesChecked) signatures, \(result.inclusionProofs) inclusion proofs): \(String(format: "%.2f", verifyTime)) s, \(rate(Int(result.events), verifyTime)); valid=\(result.valid)")
    exit(0)
}

print("TrialGate benchmark, \(ProcessInfo.processInfo.processorCount) cores, store in \(dir)")
print("")

// 1. Durable appends, one command per commit, next to the raw commit cost.
var rows: [String] = []
let n = 300
let base1 = fsyncBaseline(n)
let (d1, _) = try freshDispatcher("single")
// Records spread over 50 candidates (6 each), as screening data arrives.
for c in 0..<50 { _ = try d1.execute(.register(candidate: "S-\(c)", fields: ["site": "SITE-01"]), actor: "bench") }
let ki67: JSONValue = ["percent": 8, "specimen_date": .string(today.description), "method": "manual_count"]
let single = try seconds { for i in 0..<n { _ = try d1.execute(.record(kind: "ki67", candidate: "S-\(i % 50)", fields: ki67), actor: "bench") } } / Double(n)
let base2 = fsyncBaseline(n)
let base = (base1 + base2) / 2
print("durable commit (raw SQLite, WAL, synchronous=FULL): \(ms(base1)) before, \(ms(base2)) after; mean \(ms(base))")
print("single durable append (record ki67):  \(ms(single)) each, \(rate(1, single)), \(String(format: "%.2f", single / base))× one commit, +\(us(single - base)) over it")

// 2. Batched appends: 100 commands per commit.
let (d2, _) = try freshDispatcher("batched")
for c in 0..<500 { _ = try d2.execute(.register(candidate: "B-\(c)", fields: ["site": "SITE-01"]), actor: "bench") }
let batches = 30, perBatch = 100
let batched = try seconds {
    for b in 0..<batches {
        _ = try d2.executeBatch((0..<perBatch).map { i in
            (Command.record(kind: "ki67", candidate: "B-\((b * perBatch + i) % 500)", fields: ki67), "bench")
        })
    }
}
let base3 = fsyncBaseline(100)
print("batched durable appends (100 per commit): \(rate(batches * perBatch, batched)), \(us(batched / Double(batches * perBatch))) each; commit now \(ms(base3))")

// 3. Decisions, one per commit: evaluate, sign, append.
let (d3, _) = try freshDispatcher("decide")
let decideCount = 200
for i in 0..<decideCount {
    for c in commands(for: "D-\(i)") where c.name != "decide" { _ = try d3.execute(c, actor: "bench") }
}
let base4 = fsyncBaseline(n)
let decide = try seconds { for i in 0..<decideCount { _ = try d3.execute(.decide(candidate: "D-\(i)"), actor: "bench") } } / Double(decideCount)
let base5 = fsyncBaseline(n)
let decideBase = (base4 + base5) / 2
print("decision (evaluate + sign + durable append): \(ms(decide)) each, \(rate(1, decide)); commit \(ms(decideBase)); cost on top of one commit \(us(decide - decideBase))")

// 3b. The same work without the commit: evaluation and signing alone.
let policy = try PolicyLoader.load(ShippedPolicies.sanetEP)
let key = try TrialKey(seed: Array(repeating: 9, count: 32))
var state = LogState()
let sample = try EventStore.open(path: dir + "/decide.sqlite")
for e in try sample.events() { try state.apply(e) }
let candidate = state.candidates["D-0"]!
let reps = 2000
let cpu = seconds {
    for _ in 0..<reps {
        let d = Decision(candidate: candidate, policy: policy, policySHA256: "x", logSize: 1, logHead: "y",
                         decidedAt: SystemClock().now(), decidedBy: "bench", keyID: key.keyID)
        _ = key.sign(Decision.signedBytes(of: d.json))
    }
} / Double(reps)
print("decision CPU only (evaluate 12 criteria + canonical JSON + Ed25519 sign): \(us(cpu))")

// 4. A large log: build it in batches, then verify + replay it in one pass.
let (d4, s4) = try freshDispatcher("large")
var built = 2
var next = 0
let buildTime = try seconds {
    while built < logEvents {
        var batch: [(command: Command, actor: String)] = []
        while batch.count < 1000 && built + batch.count < logEvents {
            for c in commands(for: "L-\(next)") { batch.append((c, "bench")) }
            next += 1
        }
        _ = try d4.executeBatch(batch)
        built += batch.count
    }
}
let size = try s4.head().size
print("built a \(size)-event log (\(next) candidates, \(next) decisions) in \(String(format: "%.1f", buildTime)) s: \(rate(Int(size), buildTime)) batched")
var verifyResult: JSONValue = .null
let verifyTime = try seconds { verifyResult = try d4.execute(.verify(), actor: "bench") }
print("verify + replay of \(size) events (hashes, chain, rules, \(verifyResult["signatures_checked"]?.intValue ?? 0) signatures, every decision re-derived): \(String(format: "%.2f", verifyTime)) s, \(rate(Int(size), verifyTime)); valid=\(verifyResult["valid"]?.boolValue == true)")
