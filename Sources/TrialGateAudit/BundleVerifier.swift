import Crypto
import Dispatch
import Foundation
import TrialGateCore

/// Checks an audit bundle written by `trialgate export --out` end to end, from its files alone: the manifest,
/// every event's canonical bytes, hash and chain link and rules (through `LogAuditor`, which also re-derives
/// every decision), the Merkle root against every checkpoint, every checkpoint and decision signature with the
/// key history, each decision's inclusion proof, the key files and the policy files.
///
/// A bundle is self-consistent by construction; only an outside anchor proves it is the real log: a vkey the
/// regulator already trusts (`trustedKeys`) or a checkpoint they saved earlier (`savedCheckpoint`).
public enum BundleVerifier {
    /// The witnesses a verifier requires of a bundle's newest checkpoint: their keys, how many must have cosigned, and
    /// how recent each cosignature must be (seconds before `now`, by the time the witness states).
    public struct WitnessRequirement: Sendable {
        public var witnesses: [CosignerKey]
        public var quorum: Int?
        public var maxAge: UInt64?
        public var now: UInt64

        public init(witnesses: [CosignerKey], quorum: Int?, maxAge: UInt64?, now: UInt64) {
            (self.witnesses, self.quorum, self.maxAge, self.now) = (witnesses, quorum, maxAge, now)
        }
    }

    /// - Parameter witnesses: the verifier's own witness keys and quorum; without keys, those the manifest names are
    ///   checked (the operator's statement of its plan, said as such).
    /// - Parameter progress: told how many events of how many have been checked, every few thousand.
    public static func verify(directory: String, trustedKeys: [NoteVerifierKey] = [], savedCheckpoint: String? = nil,
                              witnesses: WitnessRequirement? = nil, checkpointSignatures: LogAuditor.CheckpointSignatures = .newest,
                              progress: ((_ done: Int64, _ total: Int64) -> Void)? = nil) -> BundleVerification {
        var check = BundleInspection(directory: directory)
        // 1. The manifest lists every file with its SHA-256, and nothing else is in the bundle.
        guard check.checkManifest() else { return check.out }

        // 2. Checkpoints by size, checked as the fold reaches each size.
        let checkpointNotes = check.checkpointNotes()
        let saved = check.savedCheckpoint(savedCheckpoint)

        // 3. Events: parsed and hashed on all cores, folded in order by the auditor.
        guard let fold = check.foldEvents(checkpointNotes: checkpointNotes, savedSize: saved?.size ?? -1, checkpointSignatures: checkpointSignatures,
                                          progress: progress) else { return check.out }
        let auditor = fold.auditor
        let history = auditor.state
        finish(&check.out, auditor)
        let size = auditor.tree.size
        let origin = history.trial?.logOrigin ?? ""
        let historyKeys = history.keys.compactMap { k in
            Data(base64Encoded: k.publicKey).flatMap { try? NoteVerifierKey(name: origin, publicKey: Array($0)) }
        }
        for s in checkpointNotes.keys where s > size {
            check.problem(s, "checkpoint_beyond_log", "checkpoints.jsonl has a checkpoint of size \(s) but the bundle has \(size) events")
        }

        // 4. The newest checkpoint covers the whole bundle and is signed by the key in force (and a trusted key, if given).
        check.checkNewestCheckpoint(size: size, origin: origin, historyKeys: historyKeys, trustedKeys: trustedKeys)

        // 4b. Witness cosignatures on the newest checkpoint: a quorum of the verifier's witnesses (or the manifest's).
        check.checkWitnesses(size: size, requirement: witnesses)

        // 5. A checkpoint saved earlier: the bundle must extend it.
        if let saved, let savedCheckpoint {
            check.checkSavedCheckpoint(saved, note: savedCheckpoint, size: size, rootAtSaved: fold.rootAtSaved,
                                       historyKeys: historyKeys, trustedKeys: trustedKeys)
        }

        // 6. Decisions: each is the logged one, with a proof of inclusion under a signed checkpoint; none is left out.
        check.checkDecisions(fold.decisionLeaves, checkpointNotes: checkpointNotes)

        // 7. Key files are the log's key history; policy files are the published texts; model files the registered artifacts.
        check.checkKeyFiles(history)
        check.checkPolicyFiles(history)
        check.checkModelFiles(history)
        check.out.problems.sort { $0.seq < $1.seq }
        return check.out
    }

    static func finish(_ out: inout BundleVerification, _ auditor: LogAuditor) {
        var auditor = auditor
        auditor.finish()
        out.problems += auditor.problems
        out.events = auditor.eventsChecked
        out.decisions = auditor.state.candidates.values.reduce(0) { $0 + $1.decisions.count }
        out.decisionsReproduced = auditor.decisionsReproduced
        out.checkpoints = auditor.checkpointsChecked
        out.checkpointSignaturesChecked = auditor.checkpointSignaturesChecked
        out.signaturesChecked = auditor.signaturesChecked + auditor.checkpointSignaturesChecked
        out.root = auditor.tree.root
    }

    /// The lines of a JSON-lines file (each ends in a newline), found with one scan.
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        out.reserveCapacity(bytes.count / 256)
        bytes.withUnsafeBufferPointer { buf in
            var start = 0
            while start < buf.count, let nl = UnsafeRawPointer(buf.baseAddress! + start).withMemoryRebound(to: UInt8.self, capacity: buf.count - start, { p in
                memchr(p, 0x0A, buf.count - start) }) {
                let end = start + (UnsafeRawPointer(nl) - UnsafeRawPointer(buf.baseAddress! + start))
                out.append(bytes[start..<end])
                start = end + 1
            }
        }
        return out
    }

    /// Parses, hashes and checks the canonical form of a chunk of lines on every core (8 at most).
    /// Starts parsing, hashing and checking the canonical form of `lines` on worker threads, and returns at once; the
    /// caller folds the chunk before meanwhile, and waits for these when it needs them.
    static func startPreparing(_ lines: [ArraySlice<UInt8>]) -> ParallelPreparation<Result<LogAuditor.Prepared, BundleLineError>> {
        let preparation = ParallelPreparation(count: lines.count, workers: min(ProcessInfo.processInfo.activeProcessorCount, 8)) { i in
            let bytes = Array(lines[i])
            do {
                let hash = Digest.sha256Hex(bytes)
                let (event, canonical) = try Event.decode(body: bytes, hash: hash)
                return Result<LogAuditor.Prepared, BundleLineError>.success(
                    LogAuditor.Prepared(event: event, bodyHash: hash, canonical: canonical, leafHash: Merkle.leafHash(bytes)))
            } catch {
                return .failure(BundleLineError(message: "\(error)"))
            }
        }
        preparation.start()
        return preparation
    }
}

struct BundleLineError: Error { let message: String }
