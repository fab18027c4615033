import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print the newest signed checkpoint (C2SP tlog-checkpoint in a signed note); save it to check the log later.")
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "The checkpoint of exactly this tree size instead of the newest.") var size: Int64?

    func run() throws {
        let result = try Runner.view(.checkpoint(size: size), as: CheckpointReply.self, options: options)
        if options.json { return Runner.printJSON(result) }
        // Witnesses' cosignatures are more signature lines of the same note (C2SP tlog-cosignature).
        print(result.note + (result.cosignatures ?? []).joined(), terminator: "")
    }
}

struct ProofGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "proof", abstract: "RFC 6962 Merkle proofs over the log.",
                                                    subcommands: [Inclusion.self, Consistency.self])

    struct Inclusion: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prove event SEQ is in the tree of SIZE events (default: the newest checkpoint's size).")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "The event's sequence number (its leaf index is SEQ - 1).") var seq: Int64
        @Option(name: .long, help: "The tree size (default: the newest checkpoint's).") var size: Int64?

        func run() throws {
            let result = try Runner.view(.proofInclusion(seq: seq, size: size), as: InclusionProofReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            print("event \(seq) (leaf index \(seq - 1)) in the tree of \(result.size) events")
            print("leaf hash \(result.leafHash)")
            print("root      \(result.root)")
            for (i, h) in result.proof.enumerated() { print("proof[\(i)] \(h)") }
        }
    }

    struct Consistency: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prove the tree of TO events extends the tree of FROM events.")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "The older tree size.") var from: Int64
        @Option(name: .long, help: "The newer tree size (default: the newest checkpoint's).") var to: Int64?

        func run() throws {
            let result = try Runner.view(.proofConsistency(from: from, to: to), as: ConsistencyProofReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            print("tree \(from) → \(result.to)")
            print("root1 \(result.root1)")
            print("root2 \(result.root2)")
            for (i, h) in result.proof.enumerated() { print("proof[\(i)] \(h)") }
        }
    }
}

enum BundleExport {
    /// Writes the audit bundle into `out`, which must not exist yet (nothing is overwritten).
    static func run(options: StoreOptions, out: String, witnesses: [String] = [], quorum: Int? = nil) throws {
        let vkeys = try Runner.vkeys(witnesses)
        // With TRIALGATE_WITNESSES, the newest checkpoint goes to the witnesses first, so that the bundle carries
        // cosignatures of the checkpoint it ends at.
        if Environment.get("TRIALGATE_WITNESSES") != nil {
            let store = try Runner.openStore(options)
            Runner.submitToWitnesses(store)
            store.close()
        }
        let manifest = try Runner.view(.exportBundle(directory: out, witnesses: vkeys, quorum: quorum), as: BundleManifest.self, options: options)
        if options.json { return Runner.printJSON(manifest) }
        print("Wrote the audit bundle of \(manifest.size) events (\(manifest.decisions) decisions) to \(out)/")
        print("Root \(manifest.root); \(manifest.files.count) files listed in manifest.json.")
        print("Check it with: trialgate verify --bundle \(out)   or   python3 audit/verify_bundle.py \(out)")
    }
}

enum BundleCheck {
    static func run(directory: String, vkey: String?, checkpointFile: String?, json: Bool, quiet: Bool = false, all: Bool = false,
                    witnesses: BundleVerifier.WitnessRequirement? = nil, everyCheckpoint: Bool = false) throws {
        var trusted: [NoteVerifierKey] = []
        if let vkey {
            let text = FileManager.default.fileExists(atPath: vkey) ? try Runner.readFile(vkey) : vkey
            do { trusted = [try NoteVerifierKey(vkey: text)] } catch { throw Runner.fail(TrialGateError(.invalidField, "--vkey: \(error)")) }
        }
        let saved = try checkpointFile.map { try Runner.readFile($0) }
        let line = ProgressLine("verify --bundle", quiet: quiet)
        let r = BundleVerifier.verify(directory: directory, trustedKeys: trusted, savedCheckpoint: saved, witnesses: witnesses,
                                      checkpointSignatures: everyCheckpoint ? .every : .newest, progress: { line.update($0, of: $1) })
        line.finish()
        if json {
            Runner.printJSON([
                "valid": .bool(r.valid), "events": .number(Double(r.events)), "decisions": .number(Double(r.decisions)),
                "decisions_reproduced": .number(Double(r.decisionsReproduced)), "checkpoints_checked": .number(Double(r.checkpoints)),
                "checkpoint_signatures_checked": .number(Double(r.checkpointSignaturesChecked)),
                "signatures_checked": .number(Double(r.signaturesChecked)), "inclusion_proofs": .number(Double(r.inclusionProofs)),
                "root": .string(Data(r.root).base64EncodedString()), "signed_by": .from(r.signedBy), "witnessed": .from(r.witnessed),
                "problems": .array(r.problems.map { ["seq": .number(Double($0.seq)), "code": .string($0.code), "message": .string($0.message)] }),
            ])
        } else if r.valid {
            print("OK: bundle \(directory): \(r.events) events, \(r.checkpoints) checkpoints (\(r.checkpointSignaturesChecked == r.checkpoints ? "every one's signature" : "roots; the newest's signature") verified), \(r.signaturesChecked) signatures, \(r.decisionsReproduced)/\(r.decisions) decisions re-derived, \(r.inclusionProofs) inclusion proofs; root \(Data(r.root).base64EncodedString())")
            if let by = r.signedBy { print("Newest checkpoint signed by \(by)\(trusted.isEmpty ? " (no --vkey given: trusted only as far as the bundle's own key history)" : "")") }
            if let w = r.witnessed { print("Witnessed: \(w).") }
        } else {
            print("FAILED: bundle \(directory)")
            Verify.summarise(r.problems.map { ($0.seq == 0 ? "bundle" : "event \($0.seq)", $0.code, $0.message) }, all: all)
        }
        if !r.valid { throw ExitCode(1) }
    }
}
