import ArgumentParser
import Foundation
import TrialGateService

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

    func run() throws {
        if let bundle { return try BundleCheck.run(directory: bundle, vkey: vkey, checkpointFile: checkpoint, json: options.json) }
        let note = try checkpoint.map { try Runner.readFile($0) }
        let key = try vkey.map { FileManager.default.fileExists(atPath: $0) ? try Runner.readFile($0) : $0 }
        let result = try Runner.run(.verify(checkpoint: note, vkey: key), options: options)
        let valid = result["valid"]?.boolValue == true
        if options.json { Runner.printJSON(result) } else {
            if valid {
                print("OK: \(result["events"]?.intValue ?? 0) events, chain intact, \(result["signatures_checked"]?.intValue ?? 0) signatures and \(result["checkpoints_checked"]?.intValue ?? 0) checkpoints valid; head \(result["head"]?.stringValue ?? ""), root \(result["root"]?.stringValue ?? "").")
                if let n = result["report_snapshots_checked"]?.intValue, n > 0 {
                    print("\(n) saved report snapshot\(n == 1 ? "" : "s") checked: signed, and equal to the fold at \(n == 1 ? "its size" : "their sizes").")
                }
                if let c = result["checkpoint"] {
                    print("The log extends the saved checkpoint of size \(c["size"]?.intValue ?? 0) (signed by \(c["signed_by"]?.stringValue ?? "?"); consistency proof of \(c["consistency_proof"]?.arrayValue?.count ?? 0) hashes).")
                }
            } else {
                print("FAILED: first bad event is \(result["first_bad_seq"]?.intValue.map(String.init) ?? "the file itself")")
                for p in result["problems"]?.arrayValue ?? [] {
                    print("  event \(p["seq"]?.intValue ?? 0): \(p["code"]?.stringValue ?? ""): \(p["message"]?.stringValue ?? "")")
                }
                for s in result["structure"]?.arrayValue ?? [] { print("  file: \(s.stringValue ?? "")") }
            }
        }
        if !valid { throw ExitCode(1) }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rebuild every candidate from the log and re-derive every decision.")
    @OptionGroup var options: StoreOptions

    func run() throws {
        let result = try Runner.run(.replay, options: options)
        let mismatched = result["mismatched"]?.intValue ?? 0
        let valid = result["valid"]?.boolValue == true
        if options.json { Runner.printJSON(result) } else {
            print("Replayed \(result["events"]?.intValue ?? 0) events: \(result["candidates"]?.intValue ?? 0) candidates, \(result["decisions"]?.intValue ?? 0) decisions.")
            print("reproduced \(result["reproduced"]?.intValue ?? 0), mismatched \(mismatched)")
            print("state sha256 \(result["state_sha256"]?.stringValue ?? "")")
            for p in result["problems"]?.arrayValue ?? [] {
                print("  event \(p["seq"]?.intValue ?? 0): \(p["code"]?.stringValue ?? ""): \(p["message"]?.stringValue ?? "")")
            }
        }
        if mismatched > 0 || !valid { throw ExitCode(1) }
    }
}
