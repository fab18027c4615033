import Crypto
import Dispatch
import Foundation
import TrialGateCore

/// What checking an audit bundle found.
public struct BundleVerification: Sendable {
    public var problems: [AuditProblem] = []
    public var events: Int64 = 0
    public var decisions = 0
    public var decisionsReproduced = 0
    public var checkpoints = 0
    public var signaturesChecked = 0
    public var inclusionProofs = 0
    public var root: [UInt8] = []
    /// The vkey of the key that signed the newest checkpoint.
    public var signedBy: String?

    public var valid: Bool { problems.isEmpty }

    public init() {}
}

/// Checks an audit bundle written by `trialgate export --out` end to end, from its files alone: the manifest,
/// every event's canonical bytes, hash and chain link and rules (through `LogAuditor`, which also re-derives
/// every decision), the Merkle root against every checkpoint, every checkpoint and decision signature with the
/// key history, each decision's inclusion proof, the key files and the policy files.
///
/// A bundle is self-consistent by construction; only an outside anchor proves it is the real log: a vkey the
/// regulator already trusts (`trustedKeys`) or a checkpoint they saved earlier (`savedCheckpoint`).
public enum BundleVerifier {
    public static func verify(directory: String, trustedKeys: [NoteVerifierKey] = [], savedCheckpoint: String? = nil) -> BundleVerification {
        var out = BundleVerification()
        func problem(_ seq: Int64, _ code: String, _ message: String) { out.problems.append(AuditProblem(seq: seq, code: code, message: message)) }
        let base = URL(fileURLWithPath: directory)
        func read(_ path: String) -> [UInt8]? { (try? Data(contentsOf: base.appendingPathComponent(path))).map(Array.init) }

        // 1. The manifest lists every file with its SHA-256, and nothing else is in the bundle.
        guard let manifestBytes = read("manifest.json"), let manifest = try? JSONParser.parse(manifestBytes),
              manifest["format"]?.stringValue == "trialgate.audit-bundle/1", let files = manifest["files"]?.objectValue else {
            problem(0, "manifest", "\(directory)/manifest.json is missing or is not a trialgate.audit-bundle/1 manifest")
            return out
        }
        for (path, want) in files.sorted(by: { $0.key < $1.key }) {
            guard let bytes = read(path) else { problem(0, "manifest", "\(path) is listed in the manifest but missing"); continue }
            if Digest.sha256Hex(bytes) != want.stringValue { problem(0, "manifest", "\(path) does not have the SHA-256 the manifest lists") }
        }
        if let walker = FileManager.default.enumerator(atPath: directory) {
            for case let path as String in walker {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: base.appendingPathComponent(path).path, isDirectory: &isDir), isDir.boolValue { continue }
                if path != "manifest.json", files[path] == nil { problem(0, "manifest", "\(path) is in the bundle but not in the manifest") }
            }
        }

        // 2. Checkpoints by size, checked as the fold reaches each size.
        var checkpointNotes: [Int64: String] = [:]
        for line in (read("checkpoints.jsonl") ?? []).split(separator: 0x0A) {
            guard let c = try? JSONParser.parse(Array(line)), let size = c["size"]?.intValue, let note = c["note"]?.stringValue else {
                problem(0, "checkpoint_malformed", "a line of checkpoints.jsonl is not {size, issued_at, note}")
                continue
            }
            checkpointNotes[Int64(size)] = note
        }
        var savedSize: Int64 = -1
        var saved: Checkpoint?
        if let savedCheckpoint {
            do {
                saved = try Checkpoint(text: SignedNote.parse(savedCheckpoint).text)
                savedSize = saved!.size
            } catch { problem(0, "checkpoint_malformed", "the saved checkpoint cannot be read: \(error)") }
        }
        var rootAtSaved: [UInt8]? = nil

        // 3. Events: parsed and hashed on all cores, folded in order by the auditor.
        guard let eventBytes = read("events.jsonl") else { problem(0, "manifest", "events.jsonl is missing"); return out }
        let lines = Self.lines(eventBytes)
        if let last = eventBytes.last, last != 0x0A { problem(Int64(lines.count + 1), "invalid_event", "events.jsonl does not end with a newline: its last line is cut off") }
        var auditor = LogAuditor()
        var decisionLeaves: [Int64: ([UInt8], JSONValue)] = [:]
        let chunk = 4096
        var start = lines.startIndex
        while start < lines.endIndex {
            let end = min(start + chunk, lines.endIndex)
            let slice = Array(lines[start..<end])
            let prepared = prepareInParallel(slice)
            for (offset, item) in prepared.enumerated() {
                let seq = Int64(start + offset + 1)
                switch item {
                case .failure(let e):
                    problem(seq, "invalid_event", "line \(seq) of events.jsonl: \(e.message)")
                    finish(&out, auditor)
                    return out
                case .success(let p):
                    auditor.feed(p)
                    if p.event.type == .decisionIssued { decisionLeaves[seq] = (p.leafHash, p.event.payload) }
                }
                if auditor.tree.size == savedSize { rootAtSaved = auditor.tree.root }
                if let note = checkpointNotes[auditor.tree.size] { auditor.checkCheckpoint(note) }
            }
            start = end
        }
        let history = auditor.state
        finish(&out, auditor)
        let size = auditor.tree.size
        let origin = history.trial?.logOrigin ?? ""
        let historyKeys = history.keys.compactMap { k in
            Data(base64Encoded: k.publicKey).flatMap { try? NoteVerifierKey(name: origin, publicKey: Array($0)) }
        }
        for s in checkpointNotes.keys where s > size {
            problem(s, "checkpoint_beyond_log", "checkpoints.jsonl has a checkpoint of size \(s) but the bundle has \(size) events")
        }

        // 4. The newest checkpoint covers the whole bundle and is signed by the key in force (and a trusted key, if given).
        if let note = read("checkpoint.note").map({ String(decoding: $0, as: UTF8.self) }) {
            do {
                let (cp, by) = try Checkpoint.open(note, keys: historyKeys.suffix(1))
                out.signedBy = by.first?.vkey
                if cp.size != size || cp.root != out.root || cp.origin != origin {
                    problem(size, "checkpoint_root", "checkpoint.note (size \(cp.size)) does not match the \(size) events of the bundle")
                }
                // Trust follows the key history: each rotation was checked to be signed by the key before it.
                if !trustedKeys.isEmpty, !historyKeys.contains(where: { trustedKeys.contains($0) }) {
                    problem(size, "untrusted_key", "no key of the bundle's history is a trusted key; its keys are \(historyKeys.map(\.vkey).joined(separator: ", "))")
                }
            } catch {
                problem(size, "checkpoint_signature", "checkpoint.note does not verify with the key in force: \(error)")
            }
        } else {
            problem(size, "manifest", "checkpoint.note is missing")
        }

        // 5. A checkpoint saved earlier: the bundle must extend it.
        if let saved, let savedCheckpoint {
            let keys = trustedKeys.isEmpty ? historyKeys : trustedKeys
            if (try? SignedNote.open(savedCheckpoint, keys: keys)) == nil {
                problem(saved.size, "checkpoint_signature", "the saved checkpoint is not signed by \(trustedKeys.isEmpty ? "any key of the bundle's history" : "a trusted key")")
            }
            if saved.size > size {
                problem(size, "log_truncated", "the saved checkpoint covers \(saved.size) events but the bundle has \(size): truncated or rolled back")
            } else if rootAtSaved != saved.root {
                problem(saved.size, "log_forked", "the bundle's first \(saved.size) events do not have the root the saved checkpoint signed")
            }
        }

        // 6. Decisions: each is the logged one, with a proof of inclusion under a signed checkpoint; none is left out.
        var listed: Set<Int64> = []
        for line in (read("decisions.jsonl") ?? []).split(separator: 0x0A) {
            guard let d = try? JSONParser.parse(Array(line)), let seq = d["seq"]?.intValue.map(Int64.init),
                  let treeSize = d["inclusion"]?["tree_size"]?.intValue.map(Int64.init) else {
                problem(0, "decision_malformed", "a line of decisions.jsonl has no seq or inclusion")
                continue
            }
            listed.insert(seq)
            guard let (leaf, payload) = decisionLeaves[seq] else {
                problem(seq, "decision_not_in_log", "decisions.jsonl lists event \(seq), which is not a decision in events.jsonl")
                continue
            }
            if d["decision"] != payload["decision"] || d["signature"] != payload["signature"] {
                problem(seq, "decision_mismatch", "decisions.jsonl differs from the decision logged at event \(seq)")
            }
            guard let note = checkpointNotes[treeSize], let cp = try? Checkpoint(text: SignedNote.parse(note).text) else {
                problem(seq, "inclusion", "decision \(seq) is proved against size \(treeSize), which has no checkpoint")
                continue
            }
            let proof = (d["inclusion"]?["proof"]?.arrayValue ?? []).map { Data(base64Encoded: $0.stringValue ?? "").map(Array.init) ?? [] }
            do {
                try Merkle.verifyInclusion(index: seq - 1, size: treeSize, leafHash: leaf, proof: proof, root: cp.root)
                out.inclusionProofs += 1
            } catch {
                problem(seq, "inclusion", "decision \(seq): \(error)")
            }
        }
        for seq in decisionLeaves.keys.sorted() where !listed.contains(seq) {
            problem(seq, "decision_missing", "the decision at event \(seq) is not in decisions.jsonl")
        }

        // 7. Key files are the log's key history; policy files are the published texts.
        if let keysBytes = read("keys.json"), let keys = try? JSONParser.parse(keysBytes).arrayValue {
            let listedKeys = keys.map { "\($0["key_id"]?.stringValue ?? "")/\($0["public_key"]?.stringValue ?? "")" }
            if listedKeys != history.keys.map({ "\($0.keyID)/\($0.publicKey)" }) {
                problem(0, "keys_mismatch", "keys.json is not the key history the log records")
            }
            for k in keys {
                guard let file = k["pem_file"]?.stringValue, let pem = read(file),
                      let raw = try? TrialKey.publicKey(pem: String(decoding: pem, as: UTF8.self)),
                      Data(raw).base64EncodedString() == k["public_key"]?.stringValue else {
                    problem(0, "keys_mismatch", "the PEM file of key \(k["key_id"]?.stringValue ?? "?") is missing or holds another key")
                    continue
                }
            }
        } else {
            problem(0, "keys_mismatch", "keys.json is missing or malformed")
        }
        if let policyBytes = read("policies.json"), let policies = try? JSONParser.parse(policyBytes).arrayValue {
            if policies.count != history.policies.count { problem(0, "policy_file", "policies.json lists \(policies.count) policies, the log published \(history.policies.count)") }
            for p in policies {
                let seq = Int64(p["seq"]?.intValue ?? 0)
                guard let file = p["file"]?.stringValue, let text = read(file),
                      let published = history.policies.first(where: { $0.seq == seq }) else {
                    problem(seq, "policy_file", "policy file for event \(seq) is missing or names no published policy")
                    continue
                }
                if Array(published.text.utf8) != text || Digest.sha256Hex(text) != published.sha256 {
                    problem(seq, "policy_file", "\(file) is not the policy text published in event \(seq)")
                }
            }
        } else {
            problem(0, "policy_file", "policies.json is missing or malformed")
        }
        out.problems.sort { $0.seq < $1.seq }
        return out
    }

    private static func finish(_ out: inout BundleVerification, _ auditor: LogAuditor) {
        var auditor = auditor
        auditor.finish()
        out.problems += auditor.problems
        out.events = auditor.eventsChecked
        out.decisions = auditor.state.candidates.values.reduce(0) { $0 + $1.decisions.count }
        out.decisionsReproduced = auditor.decisionsReproduced
        out.checkpoints = auditor.checkpointsChecked
        out.signaturesChecked = auditor.signaturesChecked + auditor.checkpointsChecked
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

    /// Parses, hashes and checks the canonical form of a chunk of lines on every core.
    private static func prepareInParallel(_ lines: [ArraySlice<UInt8>]) -> [Result<LogAuditor.Prepared, BundleLineError>] {
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let box = ResultBox(count: lines.count)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < lines.count {
                let bytes = Array(lines[i])
                do {
                    let hash = Digest.sha256Hex(bytes)
                    let (event, canonical) = try Event.decode(body: bytes, hash: hash)
                    box.set(i, .success(LogAuditor.Prepared(event: event, bodyHash: hash, canonical: canonical, leafHash: Merkle.leafHash(bytes))))
                } catch {
                    box.set(i, .failure(BundleLineError(message: "\(error)")))
                }
                i += workers
            }
        }
        return box.results
    }
}

struct BundleLineError: Error { let message: String }

/// Slots written by exactly one worker each, read after `concurrentPerform` returns. The slots live in memory
/// allocated once, so workers write distinct elements without a Swift access to a shared array.
private final class ResultBox: @unchecked Sendable {
    typealias Item = Result<LogAuditor.Prepared, BundleLineError>
    private let slots: UnsafeMutableBufferPointer<Item>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: .failure(BundleLineError(message: "not prepared")))
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func set(_ i: Int, _ r: Item) { slots[i] = r }

    var results: [Item] { Array(slots) }
}
