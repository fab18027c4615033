import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
import TrialGateService
import TrialGateStore

/// The default benchmark: appends one at a time and in batches, decisions, and a large log's verification.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Durable, batched and decision appends next to the raw commit cost, then a large log verified (about 2 minutes)."
    )

    @OptionGroup var options: BenchOptions

    /// Durable commits per baseline and appends one at a time.
    static let n = 300

    func run() throws {
        let dir = try options.freshDirectory()
        defer { options.cleanUp() }
        let workload = Workload(today: SystemClock().now().date)
        print("TrialGate benchmark, \(ProcessInfo.processInfo.processorCount) cores, store in \(dir)")
        print("")
        try Self.singleAppends(dir: dir, workload: workload)
        try Self.batchedAppends(dir: dir, workload: workload)
        try Self.decisions(dir: dir, workload: workload)
        try Self.decisionCPU(dir: dir)
        try Self.largeLog(dir: dir, workload: workload, events: options.events)
    }

    /// 1. Durable appends, one command per commit, next to the raw commit cost.
    static func singleAppends(dir: String, workload: Workload) throws {
        let base1 = fsyncBaseline(n, in: dir)
        let (d1, _) = try freshDispatcher("single", in: dir)
        // Records spread over 50 candidates (6 each), as screening data arrives.
        for c in 0..<50 { _ = try d1.execute(.register(candidate: "S-\(c)", fields: ["site": "SITE-01"]), actor: "bench") }
        let ki67 = workload.ki67(percent: 8)
        let single = try seconds { for i in 0..<n { _ = try d1.execute(.record(kind: "ki67", candidate: "S-\(i % 50)", fields: ki67), actor: "bench") } } / Double(n)
        let base2 = fsyncBaseline(n, in: dir)
        let base = (base1 + base2) / 2
        print("durable commit (raw SQLite, WAL, synchronous=FULL): \(ms(base1)) before, \(ms(base2)) after; mean \(ms(base))")
        print("single durable append (record ki67):  \(ms(single)) each, \(rate(1, single)), \(String(format: "%.2f", single / base))× one commit, +\(us(single - base)) over it")
    }

    /// 2. Batched appends: 100 commands per commit.
    static func batchedAppends(dir: String, workload: Workload) throws {
        let (d2, _) = try freshDispatcher("batched", in: dir)
        for c in 0..<500 { _ = try d2.execute(.register(candidate: "B-\(c)", fields: ["site": "SITE-01"]), actor: "bench") }
        let ki67 = workload.ki67(percent: 8)
        let batches = 30, perBatch = 100
        let batched = try seconds {
            for b in 0..<batches {
                _ = try d2.executeBatch((0..<perBatch).map { i in
                    (Command.record(kind: "ki67", candidate: "B-\((b * perBatch + i) % 500)", fields: ki67), "bench")
                })
            }
        }
        let base3 = fsyncBaseline(100, in: dir)
        print("batched durable appends (100 per commit): \(rate(batches * perBatch, batched)), \(us(batched / Double(batches * perBatch))) each; commit now \(ms(base3))")
    }

    /// 3. Decisions, one per commit: evaluate, sign, append.
    static func decisions(dir: String, workload: Workload) throws {
        let (d3, _) = try freshDispatcher("decide", in: dir)
        let decideCount = 200
        for i in 0..<decideCount {
            for c in workload.commands(for: "D-\(i)") where c.name != "decide" { _ = try d3.execute(c, actor: "bench") }
        }
        let base4 = fsyncBaseline(n, in: dir)
        let decide = try seconds { for i in 0..<decideCount { _ = try d3.execute(.decide(candidate: "D-\(i)"), actor: "bench") } } / Double(decideCount)
        let base5 = fsyncBaseline(n, in: dir)
        let decideBase = (base4 + base5) / 2
        print("decision (evaluate + sign + durable append): \(ms(decide)) each, \(rate(1, decide)); commit \(ms(decideBase)); cost on top of one commit \(us(decide - decideBase))")
    }

    /// 3b. The same work without the commit: evaluation and signing alone, for candidate D-0 of step 3's store.
    static func decisionCPU(dir: String) throws {
        let policy = try PolicyLoader.load(ShippedPolicies.sanetEP)
        let key = try benchKey()
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
    }

    /// 4. A large log: build it in batches, then verify + replay it in one pass.
    static func largeLog(dir: String, workload: Workload, events: Int) throws {
        let (d4, s4) = try freshDispatcher("large", in: dir)
        var next = 0
        let buildTime = try seconds { next = try buildLargeLog(d4, s4, workload: workload, events: events, counting: .commands) }
        let size = try s4.head().size
        print("built a \(size)-event log (\(next) candidates, \(next) decisions) in \(String(format: "%.1f", buildTime)) s: \(rate(Int(size), buildTime)) batched")
        var verifyResult: JSONValue = .null
        let verifyTime = try seconds { verifyResult = try d4.execute(.verify(), actor: "bench") }
        print("verify + replay of \(size) events (hashes, chain, rules, \(verifyResult["signatures_checked"]?.intValue ?? 0) signatures, every decision re-derived): \(String(format: "%.2f", verifyTime)) s, \(rate(Int(size), verifyTime)); valid=\(verifyResult["valid"]?.boolValue == true)")
        try printFloor(store: s4, signatures: (verifyResult["signatures_checked"]?.intValue ?? 0) + (verifyResult["checkpoint_signatures_checked"]?.intValue ?? 0),
                       size: size, measured: verifyTime)
    }

    /// The floor of a verification on this machine, measured in the same run (docs/performance.md, issue 22): the
    /// signatures it must check (decisions, sign-offs, checkpoints…) × one Ed25519 verification here ÷ the cores, plus
    /// SHA-256 over the log's bytes, plus reading the bodies from SQLite.
    static func printFloor(store: EventStore, signatures: Int, size: Int64, measured: Double) throws {
        var bodies: [[UInt8]] = []
        bodies.reserveCapacity(Int(size))
        let read = try seconds { try store.forEachRow(from: 1, through: size) { bodies.append($0.body) } }
        let bytes = bodies.reduce(0) { $0 + $1.count }
        let hash = seconds { for b in bodies { _ = Merkle.leafHash(b) } }
        let key = try benchKey()
        let message = Array(repeating: UInt8(7), count: 300)
        let signature = key.sign(message)
        let reps = 2000
        let one = seconds { for _ in 0..<reps { _ = SignatureCheck.verify(signature: signature, message: message, publicKey: key.publicKey) } } / Double(reps)
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let sigs = Double(signatures) * one / cores
        let floor = sigs + hash + read
        print("floor: \(signatures) signatures × \(us(one)) ÷ \(Int(cores)) cores = \(String(format: "%.2f", sigs)) s; SHA-256 of \(bytes / 1_000_000) MB: \(String(format: "%.2f", hash)) s; reading the bodies: \(String(format: "%.2f", read)) s; floor \(String(format: "%.2f", floor)) s, \(rate(Int(size), floor)); verify is \(String(format: "%.1f", measured / floor))× the floor")
    }
}
