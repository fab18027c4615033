import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

/// The tamper-evidence figures: the tree's cost on appends (on vs off, interleaved rounds), inclusion proofs
/// on a large log, and verification of its exported bundle.
struct MerkleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merkle",
        abstract: "The Merkle tree's cost on appends, inclusion and consistency proofs on a large log, its export and bundle verification."
    )

    @OptionGroup var options: BenchOptions

    func run() throws {
        let dir = try options.freshDirectory()
        defer { options.cleanUp() }
        let workload = Workload(today: SystemClock().now().date)
        print("TrialGate Merkle benchmark, \(ProcessInfo.processInfo.processorCount) cores, store in \(dir)")
        try Self.treeCost(dir: dir, workload: workload)
        let log = try Self.largeLog(dir: dir, workload: workload, events: options.events)
        try Self.proofs(log.reader, built: log.built)
        try Self.bundle(log.reader, dir: dir, built: log.built)
        withExtendedLifetime(log.writer) {}
    }

    /// Appends with the tree on and off, in rounds that alternate which goes first.
    static func treeCost(dir: String, workload: Workload) throws {
        let ki67 = workload.ki67(percent: 8)
        var totals: [Bool: (single: Double, batched: Double)] = [true: (0, 0), false: (0, 0)]
        let rounds = 4, singles = 150, batches = 10, perBatch = 100
        for round in 0..<rounds {
            for tree in (round % 2 == 0 ? [true, false] : [false, true]) {
                let (d, store) = try freshDispatcher("tree-\(tree)-\(round)", in: dir)
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
    }

    /// A large log built in batches of 1,000 commands (a checkpoint per batch and per decision).
    /// - Returns: the dispatcher that wrote it, one on it that signs nothing, and its size.
    static func largeLog(dir: String, workload: Workload, events: Int) throws -> (writer: Dispatcher, reader: Dispatcher, built: Int64) {
        let (d, store) = try freshDispatcher("large", in: dir)
        var next = 0
        let buildTime = try seconds { next = try buildLargeLog(d, store, workload: workload, events: events, counting: .storedEvents) }
        let built = try store.head().size
        print("built \(built) events (\(next) decisions, \(try store.checkpoints().count) checkpoints) in \(String(format: "%.1f", buildTime)) s")
        let reader = Dispatcher(store: try EventStore.open(path: dir + "/large.sqlite"), clock: SystemClock(), key: { throw NoSigningKey() })
        return (d, reader, built)
    }

    /// Inclusion and consistency proofs from the stored tree, at random sizes.
    static func proofs(_ reader: Dispatcher, built: Int64) throws {
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
    }

    /// One signature check, then the log's export and the verification of the exported bundle.
    static func bundle(_ reader: Dispatcher, dir: String, built: Int64) throws {
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
    }
}
