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
    @Option(name: .long, help: "A witness's cosigner vkey (or a file holding it); repeat for several.") var witness: [String] = []
    @Option(name: .long, help: "How many of the --witness keys must have cosigned the newest checkpoint.") var quorum: Int?

    func run() throws {
        if quorum != nil || !witness.isEmpty {
            guard let quorum, quorum >= 1, quorum <= witness.count, bundle == nil else {
                throw Runner.fail(TrialGateError(.badRequest, "--quorum K takes 1 ≤ K ≤ the number of --witness keys (and a store, not --bundle)"))
            }
            try checkQuorum(quorum)
        }
        if let bundle { return try BundleCheck.run(directory: bundle, vkey: vkey, checkpointFile: checkpoint, json: options.json) }
        let note = try checkpoint.map { try Runner.readFile($0) }
        let key = try vkey.map(Runner.inlineOrFile)
        let result = try Runner.view(.verify(checkpoint: note, vkey: key), as: VerifyReply.self, options: options)
        if options.json { Runner.printJSON(result) } else {
            if result.valid {
                print("OK: \(result.events) events, chain intact, \(result.signaturesChecked) signatures and \(result.checkpointsChecked) checkpoints valid; head \(result.head), root \(result.root).")
                let n = result.reportSnapshotsChecked
                if n > 0 {
                    print("\(n) saved report snapshot\(n == 1 ? "" : "s") checked: signed, and equal to the fold at \(n == 1 ? "its size" : "their sizes").")
                }
                if let c = result.checkpoint {
                    print("The log extends the saved checkpoint of size \(c.size) (signed by \(c.signedBy ?? "?"); consistency proof of \(c.consistencyProof.count) hashes).")
                }
            } else {
                print("FAILED: first bad event is \(result.firstBadSeq.map(String.init) ?? "the file itself")")
                for p in result.problems { print("  event \(p.seq): \(p.code): \(p.message)") }
                for s in result.structure { print("  file: \(s)") }
            }
        }
        if !result.valid { throw ExitCode(1) }
    }

    /// The newest checkpoint must carry valid cosignatures of `quorum` of the given witnesses (C2SP tlog-cosignature).
    private func checkQuorum(_ quorum: Int) throws {
        let keys = try witness.map { w in
            do { return try CosignerKey(vkey: try Runner.inlineOrFile(w)) } catch let e as ExitCode { throw e } catch {
                throw Runner.fail(TrialGateError(error))
            }
        }
        let store = try Runner.openStore(options)
        defer { store.close() }
        let (size, cosigned) = try WitnessSubmission.quorum(store: store, witnesses: keys)
        if cosigned.count < quorum {
            print("FAILED: the newest checkpoint (size \(size)) has \(cosigned.count) of the \(quorum) witness cosignatures required\(cosigned.isEmpty ? "" : " (cosigned by \(cosigned.joined(separator: ", ")))")")
            throw ExitCode(1)
        }
        print("Witnessed: the newest checkpoint (size \(size)) is cosigned by \(cosigned.joined(separator: ", ")) (quorum \(quorum) of \(keys.count)).")
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
