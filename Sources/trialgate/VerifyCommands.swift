import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every hash, the chain, every event's rules, every signature and checkpoint; or an exported bundle.",
        discussion: """
            With --checkpoint FILE (a signed checkpoint saved earlier), also prove the log extends it: a shorter log was
            truncated or rolled back, another root means it was rewritten. With --vkey, the checkpoint must be signed by
            that key (a C2SP vkey line, or a file holding one) rather than any key of the log's own history.
            With --bundle DIR, check an audit bundle from `trialgate export --out` instead of the store.
            """)
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "A signed checkpoint saved earlier that the log must extend.") var checkpoint: String?
    @Option(name: .long, help: "The verifier key (vkey) checkpoints must be signed by.") var vkey: String?
    @Option(name: .long, help: "Check this audit bundle directory instead of the store.") var bundle: String?
    @Option(name: .long, help: "A witness's cosigner vkey (or a file holding vkeys, one a line); repeat for several.") var witness: [String] = []
    @Option(name: .long, help: "How many of the --witness keys must have cosigned the newest checkpoint.") var quorum: Int?
    @Flag(name: .long, help: "List every problem found (by default: how many of each kind, and the first few).") var all = false
    @Flag(name: .long, help: "Verify every stored checkpoint's signature, not only the newest's (every checkpoint's root is checked either way).")
    var everyCheckpoint = false
    @Option(name: .long, help: "How recent each counted cosignature must be, by the time the witness states: e.g. 36h, 90m, 3600s, 7d.") var maxAge: String?

    func run() throws {
        let keys = try witnessKeys()
        if let quorum, !keys.isEmpty, !(1...keys.count).contains(quorum) {
            throw Runner.fail(TrialGateError(.badRequest, "--quorum K takes 1 ≤ K ≤ the number of --witness keys (\(keys.count)), got \(quorum)"))
        }
        if let bundle {
            var requirement: BundleVerifier.WitnessRequirement?
            if quorum != nil || !keys.isEmpty || maxAge != nil {
                // Without --witness, --quorum and --max-age apply to the witnesses the manifest names (and fail without any).
                requirement = .init(witnesses: keys, quorum: quorum, maxAge: try age(), now: now())
            }
            return try BundleCheck.run(directory: bundle, vkey: vkey, checkpointFile: checkpoint, json: options.json, quiet: options.quiet, all: all,
                                       witnesses: requirement, everyCheckpoint: everyCheckpoint)
        }
        if quorum != nil || !keys.isEmpty || maxAge != nil {
            guard !keys.isEmpty else { throw Runner.fail(TrialGateError(.badRequest, "--quorum and --max-age need the --witness keys they count")) }
            try checkQuorum(keys, quorum ?? keys.count)
        }
        let note = try checkpoint.map { try Runner.readFile($0) }
        let key = try vkey.map(Runner.inlineOrFile)
        let result = try Runner.view(.verify(checkpoint: note, vkey: key, everyCheckpoint: everyCheckpoint), as: VerifyReply.self, options: options)
        if options.json { Runner.printJSON(result) } else {
            if result.valid {
                let signed = result.checkpointSignaturesChecked == result.checkpointsChecked ? "every one's signature"
                    : result.checkpointSignaturesChecked == 1 ? "the newest's signature" : "\(result.checkpointSignaturesChecked) signatures"
                print("OK: \(result.events) events, chain intact, \(result.signaturesChecked) signatures valid, \(result.checkpointsChecked) checkpoints match the tree (\(signed) verified); head \(result.head), root \(result.root).")
                let n = result.reportSnapshotsChecked
                if n > 0 {
                    print("\(n) saved report snapshot\(n == 1 ? "" : "s") checked: signed, and equal to the fold at \(n == 1 ? "its size" : "their sizes").")
                }
                if let c = result.checkpoint {
                    print("The log extends the saved checkpoint of size \(c.size) (signed by \(c.signedBy ?? "?"); consistency proof of \(c.consistencyProof.count) hashes).")
                }
            } else {
                print("FAILED: first bad event is \(result.firstBadSeq.map(String.init) ?? "the file itself")")
                for s in result.structure { print("  file: \(s)") }
                Self.summarise(result.problems.map { ("event \($0.seq)", $0.code, $0.message) }, all: all)
            }
        }
        if !result.valid { throw ExitCode(1) }
    }

    /// How many problems of each kind, then the first five of them, or all with `all`: a log with a broken tree has a
    /// problem at every checkpoint, and a screen of them hides the one that matters.
    static func summarise(_ problems: [(place: String, code: String, message: String)], all: Bool) {
        guard !problems.isEmpty else { return }
        var counts: [String: Int] = [:]
        for p in problems { counts[p.code, default: 0] += 1 }
        let kinds = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        print("  \(problems.count) problem\(problems.count == 1 ? "" : "s"): \(kinds.joined(separator: ", "))")
        let shown = all ? problems[...] : problems.prefix(5)
        for p in shown { print("  \(p.place): \(p.code): \(p.message)") }
        if shown.count < problems.count { print("  … and \(problems.count - shown.count) more (--all lists them, --json gives them all)") }
    }

    /// The --witness keys: each a vkey, or a file of vkeys one a line; each witness once.
    private func witnessKeys() throws -> [CosignerKey] {
        do {
            return try CosignerKey.distinct(try Runner.vkeys(witness).map(CosignerKey.init(vkey:)))
        } catch let e as ExitCode { throw e } catch {
            throw Runner.fail(TrialGateError(.badVKey, "--witness: \(TrialGateError(error).message)"))
        }
    }

    private func age() throws -> UInt64? {
        try maxAge.map { text in
            do { return try WitnessAge.seconds(text) } catch { throw Runner.fail(TrialGateError(error)) }
        }
    }

    private func now() -> UInt64 { UInt64(max(0, SystemClock().now().millisecondsSinceEpoch / 1000)) }

    /// The newest checkpoint must carry valid cosignatures of `quorum` of the given witnesses (C2SP tlog-cosignature),
    /// each no older than `--max-age` when given; the refusals kept for it are shown with the witness's answer.
    private func checkQuorum(_ keys: [CosignerKey], _ quorum: Int) throws {
        let age = try age()
        let store = try Runner.openStore(options)
        defer { store.close() }
        let (size, verdict) = try WitnessSubmission.quorum(store: store, witnesses: keys, quorum: quorum, maxAge: age, now: now())
        // The refusals of this checkpoint that came after the witness's newest cosignature of it (a refusal it later
        // cosigned over is history, not news).
        let names = Set(keys.map(\.name))
        let cosignedAt = Dictionary(try store.cosignatures(size: size).map { ($0.witness, $0.receivedAt) }, uniquingKeysWith: max)
        for r in try store.witnessRefusals(size: size) where names.contains(r.witness) && r.receivedAt > (cosignedAt[r.witness] ?? "") {
            print("Refused by \(r.witness) at \(r.receivedAt) (HTTP \(r.status)): \(WitnessSubmission.shown(r.answer, 200))")
        }
        guard verdict.met else {
            print("FAILED: " + verdict.summary(size: size))
            throw ExitCode(1)
        }
        print("Witnessed: " + verdict.summary(size: size) + ".")
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rebuild every candidate from the log and re-derive every decision.")
    @OptionGroup var options: StoreOptions

    func run() throws {
        let result = try Runner.view(.replay, as: ReplayReply.self, options: options)
        if options.json { Runner.printJSON(result) } else {
            print("Replayed \(result.events) events: \(result.candidates) candidates, \(result.decisions) decisions.")
            print("reproduced \(result.reproduced), mismatched \(result.mismatched)")
            print("state sha256 \(result.stateSHA256)")
            for p in result.problems { print("  event \(p.seq): \(p.code): \(p.message)") }
        }
        if result.mismatched > 0 || !result.valid { throw ExitCode(1) }
    }
}
