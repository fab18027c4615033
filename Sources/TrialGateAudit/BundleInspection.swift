import Foundation
import TrialGateCore

/// One audit bundle being checked by `BundleVerifier`: where its files are, and what has been found so far. Each
/// step of the check is one method, run in the order `BundleVerifier.verify` gives.
struct BundleInspection {
    let directory: String
    let base: URL
    var out = BundleVerification()

    init(directory: String) {
        self.directory = directory
        self.base = URL(fileURLWithPath: directory)
    }

    mutating func problem(_ seq: Int64, _ code: String, _ message: String) { out.problems.append(AuditProblem(seq: seq, code: code, message: message)) }

    func read(_ path: String) -> [UInt8]? { (try? Data(contentsOf: base.appendingPathComponent(path))).map(Array.init) }

    /// Checks that the manifest lists every file with its SHA-256, and that nothing else is in the bundle.
    /// - Returns: false when there is no usable manifest (nothing more is checked).
    mutating func checkManifest() -> Bool {
        guard let manifestBytes = read("manifest.json"), let manifest = try? JSONParser.parse(manifestBytes),
              manifest["format"]?.stringValue == "trialgate.audit-bundle/1", let files = manifest["files"]?.objectValue else {
            problem(0, "manifest", "\(directory)/manifest.json is missing or is not a trialgate.audit-bundle/1 manifest")
            return false
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
        return true
    }

    /// The notes of checkpoints.jsonl, by size.
    mutating func checkpointNotes() -> [Int64: String] {
        var checkpointNotes: [Int64: String] = [:]
        for line in (read("checkpoints.jsonl") ?? []).split(separator: 0x0A) {
            guard let c = try? JSONParser.parse(Array(line)), let size = c["size"]?.intValue, let note = c["note"]?.stringValue else {
                problem(0, "checkpoint_malformed", "a line of checkpoints.jsonl is not {size, issued_at, note}")
                continue
            }
            checkpointNotes[Int64(size)] = note
        }
        return checkpointNotes
    }

    /// The checkpoint saved earlier, if one is given and can be read.
    mutating func savedCheckpoint(_ savedCheckpoint: String?) -> Checkpoint? {
        var saved: Checkpoint?
        if let savedCheckpoint {
            do {
                saved = try Checkpoint(text: SignedNote.parse(savedCheckpoint).text)
            } catch { problem(0, "checkpoint_malformed", "the saved checkpoint cannot be read: \(error)") }
        }
        return saved
    }

    /// What folding the events found besides the auditor's verdicts: each decision's leaf hash and payload, and
    /// the root at the saved checkpoint's size.
    struct Fold {
        let auditor: LogAuditor
        let decisionLeaves: [Int64: DecisionLeaf]
        let rootAtSaved: [UInt8]?
    }

    /// Parses and hashes the events on all cores and folds them in order through a `LogAuditor`, checking each
    /// checkpoint as the fold reaches its size.
    /// - Returns: nil when events.jsonl is missing or a line cannot be read (the check ends there).
    mutating func foldEvents(checkpointNotes: [Int64: String], savedSize: Int64, checkpointSignatures: LogAuditor.CheckpointSignatures,
                             progress: ((Int64, Int64) -> Void)? = nil) -> Fold? {
        var rootAtSaved: [UInt8]? = nil
        guard let eventBytes = read("events.jsonl") else { problem(0, "manifest", "events.jsonl is missing"); return nil }
        let lines = BundleVerifier.lines(eventBytes)
        if let last = eventBytes.last, last != 0x0A { problem(Int64(lines.count + 1), "invalid_event", "events.jsonl does not end with a newline: its last line is cut off") }
        var auditor = LogAuditor(checkpointSignatures: checkpointSignatures)
        var decisionLeaves: [Int64: DecisionLeaf] = [:]
        let chunk = 4096
        // Each chunk is prepared on the worker threads while the one before it is folded here.
        func startChunk(_ from: Int) -> ParallelPreparation<Result<LogAuditor.Prepared, BundleLineError>>? {
            from < lines.endIndex ? BundleVerifier.startPreparing(Array(lines[from..<min(from + chunk, lines.endIndex)])) : nil
        }
        var start = lines.startIndex
        var next = startChunk(start)
        while let current = next {
            let end = min(start + chunk, lines.endIndex)
            let prepared = current.wait()
            next = startChunk(end)
            for (offset, item) in prepared.enumerated() {
                let seq = Int64(start + offset + 1)
                switch item {
                case .failure(let e):
                    problem(seq, "invalid_event", "line \(seq) of events.jsonl: \(e.message)")
                    BundleVerifier.finish(&out, auditor)
                    return nil
                case .success(let p):
                    auditor.feed(p)
                    if p.event.type == .decisionIssued {
                        decisionLeaves[seq] = DecisionLeaf(leaf: p.leafHash, signature: p.event.payload["signature"],
                                                           signedSHA256: auditor.decisionDigests[seq] ?? p.decisionDigest)
                    }
                }
                if auditor.tree.size == savedSize { rootAtSaved = auditor.tree.root }
                if let note = checkpointNotes[auditor.tree.size] { auditor.checkCheckpoint(note) }
            }
            start = end
            progress?(Int64(end), Int64(lines.count))
        }
        return Fold(auditor: auditor, decisionLeaves: decisionLeaves, rootAtSaved: rootAtSaved)
    }

    /// Checks that the newest checkpoint covers the whole bundle and is signed by the key in force, and that the key
    /// history includes a trusted key, if any is given.
    mutating func checkNewestCheckpoint(size: Int64, origin: String, historyKeys: [NoteVerifierKey], trustedKeys: [NoteVerifierKey]) {
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
    }

    /// Checks the witness cosignatures on `checkpoint.note` against the verifier's witnesses, or, when it gives none,
    /// against the witnesses and quorum the manifest names.
    mutating func checkWitnesses(size: Int64, requirement: BundleVerifier.WitnessRequirement?) {
        var keys = requirement?.witnesses ?? []
        let quorum = requirement?.quorum
        var source = "given"
        // The manifest's statement is checked whether or not the verifier brings its own keys.
        let manifest = read("manifest.json").flatMap { try? JSONParser.parse($0) }
        var declared: [CosignerKey] = []
        if let listed = manifest?["witnesses"] {
            if let named = listed.arrayValue {
                for v in named {
                    do { declared.append(try CosignerKey(vkey: v.stringValue ?? "")) } catch {
                        problem(0, "witness_vkey", "manifest.json names a witness vkey that does not read: \(TrialGateError(error).message)")
                    }
                }
                do { _ = try CosignerKey.distinct(declared) } catch { problem(0, "witness_vkey", "manifest.json: \(TrialGateError(error).message)") }
            } else {
                problem(0, "witness_vkey", "manifest.json: witnesses is not a list of vkeys")
            }
        }
        var declaredQuorum: Int?
        if let q = manifest?["quorum"] {
            if let n = q.intValue, (1...max(1, declared.count)).contains(n), !declared.isEmpty { declaredQuorum = n } else {
                problem(0, "witness_quorum", "manifest.json: quorum \(CanonicalJSON.string(q)) is not 1 to the number of witnesses it names (\(declared.count))")
            }
        }
        if keys.isEmpty {
            keys = declared
            source = "named by the bundle's own manifest (the operator's statement: pass --witness keys obtained from the witnesses to rely on them)"
            guard !keys.isEmpty else {
                if requirement != nil { problem(0, "witness_quorum", "a quorum or a maximum age was asked for, but no witness is given or named by the manifest") }
                return
            }
        }
        // Without --quorum, the manifest's quorum applies to whichever witnesses are counted.
        let k = quorum ?? declaredQuorum ?? keys.count
        guard (1...keys.count).contains(k) else {
            problem(0, "witness_quorum", "a quorum of \(k) cannot be met by \(keys.count) witness\(keys.count == 1 ? "" : "es")")
            return
        }
        guard let note = read("checkpoint.note").map({ String(decoding: $0, as: UTF8.self) }) else { return }
        do {
            let verdict = try WitnessQuorum(note: note, witnesses: keys, quorum: k, maxAge: requirement?.maxAge,
                                            now: requirement?.now ?? UInt64(Date().timeIntervalSince1970))
            for name in verdict.invalid { problem(size, "cosignature_invalid", "checkpoint.note has a cosignature line of \(name) that does not verify with its key") }
            if verdict.counted.count < k { problem(size, "witness_quorum", verdict.summary(size: size) + " (witnesses \(source))") }
            out.witnessed = verdict.summary(size: size) + " (witnesses \(source))"
        } catch {
            problem(size, "witness_quorum", "checkpoint.note is not a signed note: \(TrialGateError(error).message)")
        }
    }

    /// Checks that the bundle extends a checkpoint saved earlier (`note`, read as `saved`).
    mutating func checkSavedCheckpoint(_ saved: Checkpoint, note savedCheckpoint: String, size: Int64, rootAtSaved: [UInt8]?,
                                       historyKeys: [NoteVerifierKey], trustedKeys: [NoteVerifierKey]) {
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

    /// Checks that each decision listed is the logged one, with a proof of inclusion under a signed checkpoint, and
    /// that none is left out.
    mutating func checkDecisions(_ decisionLeaves: [Int64: DecisionLeaf], checkpointNotes: [Int64: String]) {
        // Each line is parsed, compared with the logged decision and its proof checked on the worker threads; the
        // verdicts are gathered here, in file order.
        let lines = (read("decisions.jsonl") ?? []).split(separator: 0x0A)
        let checks = ParallelPreparation(count: lines.count, workers: min(ProcessInfo.processInfo.activeProcessorCount, 8)) { i in
            Self.checkDecisionLine(lines[i], decisionLeaves: decisionLeaves, checkpointNotes: checkpointNotes)
        }
        checks.start()
        var listed: Set<Int64> = []
        for verdict in checks.wait() {
            if let seq = verdict.seq { listed.insert(seq) }
            if verdict.proved { out.inclusionProofs += 1 }
            out.problems += verdict.problems
        }
        for seq in decisionLeaves.keys.sorted() where !listed.contains(seq) {
            problem(seq, "decision_missing", "the decision at event \(seq) is not in decisions.jsonl")
        }
    }

    /// A decision of events.jsonl as decisions.jsonl is checked against it: its leaf hash, its signature, and the
    /// SHA-256 of its signed bytes.
    struct DecisionLeaf: Sendable {
        let leaf: [UInt8]
        let signature: JSONValue?
        let signedSHA256: String
    }

    /// What one line of decisions.jsonl shows: the event it lists, whether its inclusion proof verified, its problems.
    private struct DecisionLineVerdict: Sendable {
        var seq: Int64?
        var proved = false
        var problems: [AuditProblem] = []
    }

    /// One line of decisions.jsonl: the decision logged at its `seq`, with a proof of inclusion under the checkpoint of
    /// its `tree_size`. Pure; runs on any thread.
    private static func checkDecisionLine(_ line: ArraySlice<UInt8>, decisionLeaves: [Int64: DecisionLeaf],
                                          checkpointNotes: [Int64: String]) -> DecisionLineVerdict {
        var v = DecisionLineVerdict()
        func problem(_ seq: Int64, _ code: String, _ message: String) { v.problems.append(AuditProblem(seq: seq, code: code, message: message)) }
        guard let d = try? JSONParser.parse(Array(line)), let seq = d["seq"]?.intValue.map(Int64.init),
              let treeSize = d["inclusion"]?["tree_size"]?.intValue.map(Int64.init) else {
            problem(0, "decision_malformed", "a line of decisions.jsonl has no seq or inclusion")
            return v
        }
        v.seq = seq
        guard let logged = decisionLeaves[seq] else {
            problem(seq, "decision_not_in_log", "decisions.jsonl lists event \(seq), which is not a decision in events.jsonl")
            return v
        }
        // The same decision has the same canonical bytes: compared by their SHA-256, so the fold keeps no decision body.
        if Digest.sha256Hex(Decision.signedBytes(of: d["decision"] ?? .null)) != logged.signedSHA256 || d["signature"] != logged.signature {
            problem(seq, "decision_mismatch", "decisions.jsonl differs from the decision logged at event \(seq)")
        }
        guard let note = checkpointNotes[treeSize], let cp = try? Checkpoint(text: SignedNote.parse(note).text) else {
            problem(seq, "inclusion", "decision \(seq) is proved against size \(treeSize), which has no checkpoint")
            return v
        }
        let proof = (d["inclusion"]?["proof"]?.arrayValue ?? []).map { Data(base64Encoded: $0.stringValue ?? "").map(Array.init) ?? [] }
        do {
            try Merkle.verifyInclusion(index: seq - 1, size: treeSize, leafHash: logged.leaf, proof: proof, root: cp.root)
            v.proved = true
        } catch {
            problem(seq, "inclusion", "decision \(seq): \(error)")
        }
        return v
    }

    /// Checks that the key files are the log's key history.
    mutating func checkKeyFiles(_ history: LogState) {
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
    }

    /// Checks that the policy files are the published texts.
    mutating func checkPolicyFiles(_ history: LogState) {
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
    }

    /// Checks that the model files are the registered artifacts, byte for byte (a bundle written before models existed
    /// has no `models.json`, and needs none when the log registered no model).
    mutating func checkModelFiles(_ history: LogState) {
        guard let bytes = read("models.json") else {
            if !history.models.isEmpty { problem(0, "model_file", "models.json is missing; the log registered \(history.models.count) model version(s)") }
            return
        }
        guard let listed = try? JSONParser.parse(bytes).arrayValue else { return problem(0, "model_file", "models.json is malformed") }
        if Set(listed.compactMap { $0["seq"]?.intValue.map(Int64.init) }) != Set(history.models.map(\.seq)) || listed.count != history.models.count {
            problem(0, "model_file", "models.json does not list exactly the model versions the log registered")
        }
        for m in listed {
            let seq = Int64(m["seq"]?.intValue ?? 0)
            guard let file = m["file"]?.stringValue, let text = read(file), let registered = history.models.first(where: { $0.seq == seq }) else {
                problem(seq, "model_file", "the artifact file for event \(seq) is missing or names no registered model")
                continue
            }
            if Array(registered.artifactText.utf8) != text {
                problem(seq, "model_file", "\(file) is not the artifact registered in event \(seq) (\(registered.name))")
            }
        }
    }
}
