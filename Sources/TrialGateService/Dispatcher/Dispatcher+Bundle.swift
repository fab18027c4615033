import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Writes the audit bundle into `directory`, which must not exist yet (an export never overwrites); a bundle
    /// that cannot be written whole is removed, so none is left half-written.
    func exportBundle(directory: String, witnesses: [String] = [], quorum: Int? = nil) throws -> BundleManifest {
        let requirement = try BundleManifest.WitnessRequirement(witnesses: witnesses, quorum: quorum)
        if FileManager.default.fileExists(atPath: directory) {
            throw TrialGateError(.fileExists, "\(directory) already exists; an export never overwrites")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrialGateError(.fileUnwritable, "cannot create \(directory): \(error.localizedDescription)")
        }
        do {
            return try exportBundle(to: DirectoryBundleSink(root: URL(fileURLWithPath: directory)), exportedAt: clock.now(), witnesses: requirement)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    public func exportBundle(to sink: BundleSink, exportedAt: UTCTimestamp, witnesses: BundleManifest.WitnessRequirement? = nil) throws -> BundleManifest {
        do {
            var manifest = try writeBundle(to: sink, exportedAt: exportedAt, witnesses: witnesses)
            // The bundle stops at the newest checkpoint; events beyond it (or a checkpoint that does not hold) are
            // said, not silently left out.
            manifest.logWarning = try headWarning()
            return manifest
        } catch {
            throw TrialGateError(error)
        }
    }

    /// Writes the audit bundle of the log up to its newest checkpoint.
    ///
    /// The bundle covers exactly the events the newest signed checkpoint covers, so it is consistent even
    /// while others write. The tree is rebuilt from the stored bytes and must give the checkpoint's root,
    /// or nothing is exported.
    /// - Returns: the manifest.
    private func writeBundle(to sink: BundleSink, exportedAt: UTCTimestamp, witnesses: BundleManifest.WitnessRequirement?) throws -> BundleManifest {
        let store = try requireStore()
        guard let latest = try store.latestCheckpoint() else {
            throw TrialGateError(.unknownCheckpoint, "the log has no checkpoint yet; nothing to export")
        }
        let size = latest.size
        let files = BundleWriter(sink: sink)

        // Events: the stored canonical bytes, one per line. The tree is rebuilt from them as they stream.
        let (tree, state, decisionEvents, modelEvents) = try Self.writeEvents(store, size: size, to: files)
        let root = try Merkle.root(size: size, tree)
        guard let trial = state.trial, let parsed = try? Checkpoint(text: SignedNote.parse(latest.note).text), parsed.root == root else {
            throw TrialGateError(.storeCorrupt, "the stored events do not give the root of the newest checkpoint; run `trialgate verify`")
        }

        // Checkpoints: every one issued up to the bundle's size, and the newest as a plain note file.
        try files.write(AuditBundle.checkpointsFile, [])
        for c in try store.checkpoints(through: size) {
            try files.append(AuditBundle.checkpointsFile, CanonicalJSON.encode([
                "size": .number(Double(c.size)), "issued_at": .string(c.issuedAt), "note": .string(c.note),
            ]) + [0x0A])
        }
        // The newest with the newest cosignature of each witness that cosigned it (C2SP tlog-cosignature lines
        // after the log's own signature line).
        let cosignatures = WitnessSubmission.readableLines(latest.note, try store.cosignatures(size: size).map(\.line)).joined()
        try files.write(AuditBundle.latestCheckpointFile, Array((latest.note + cosignatures).utf8))

        // Decisions with their signatures and an inclusion proof against the newest checkpoint.
        try Self.writeDecisions(decisionEvents, tree: tree, size: size, to: files)

        // Keys: the history, each as PEM and as a signed-note vkey.
        try Self.writeKeys(state.keys, origin: trial.logOrigin, to: files)

        // Policies as published (the log's text, not files on disk).
        try Self.writePolicies(state.policies, to: files)

        // Model artifacts as registered, for verifiers that recompute every score.
        try Self.writeModels(modelEvents, to: files)

        let manifest = BundleManifest(format: AuditBundle.format, trialID: trial.trialID, logOrigin: trial.logOrigin, size: size,
                                      root: Data(root).base64EncodedString(), decisions: decisionEvents.count, exportedAt: exportedAt.description,
                                      files: files.manifestFiles, witnesses: witnesses?.witnesses, quorum: witnesses?.quorum)
        try sink.write(AuditBundle.manifestFile, CanonicalJSON.encode(manifest.json) + [0x0A])
        return manifest
    }

    /// Writes the first `size` events as stored, one per line, and rebuilds the tree from them as they stream; keeps
    /// the trial, key and policy events folded and the decisions.
    private static func writeEvents(_ store: EventStore, size: Int64, to files: BundleWriter) throws
        -> (tree: MerkleMemoryTree, state: LogState, decisions: [Event], models: [Event]) {
        var tree = MerkleMemoryTree()
        var state = LogState()
        var decisionEvents: [Event] = [], modelEvents: [Event] = []
        try files.write(AuditBundle.eventsFile, [])
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        try store.forEachRow(from: 1, through: size) { row in
            tree.append(leafHash: Merkle.leafHash(row.body))
            buffer += row.body
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 {
                try files.append(AuditBundle.eventsFile, buffer)
                buffer.removeAll(keepingCapacity: true)
            }
            let type = EventType(rawValue: row.type)
            if type == .trialInitialised || type == .policyPublished || type == .keyRotated {
                try state.apply(try row.event(), strict: false)
            } else if type == .decisionIssued {
                decisionEvents.append(try row.event())
            } else if type == .modelRegistered {
                modelEvents.append(try row.event())
            }
        }
        try files.append(AuditBundle.eventsFile, buffer)
        guard tree.size == size else {
            throw TrialGateError(.storeCorrupt, "the newest checkpoint covers \(size) events but only \(tree.size) are stored; run `trialgate verify`")
        }
        return (tree, state, decisionEvents, modelEvents)
    }

    /// Writes each decision with its signature and an inclusion proof in the tree of `size` events.
    private static func writeDecisions(_ decisionEvents: [Event], tree: MerkleMemoryTree, size: Int64, to files: BundleWriter) throws {
        try files.write(AuditBundle.decisionsFile, [])
        for e in decisionEvents {
            let proof = try Merkle.inclusionProof(index: e.seq - 1, size: size, tree)
            // As stored, whatever their shape: a forged log's goes into the bundle for its verifiers to reject.
            let (decision, signature) = (e.payload["decision"] ?? .null, e.payload["signature"] ?? .null)
            let line: JSONValue = [
                "seq": .number(Double(e.seq)), "index": .number(Double(e.seq - 1)), "candidate": .from(e.candidate),
                "decision": decision, "signature": signature,
                "leaf_hash": .string(Data(try tree.node(level: 0, index: e.seq - 1)).base64EncodedString()),
                "inclusion": ["tree_size": .number(Double(size)), "proof": .array(proof.map { .string(Data($0).base64EncodedString()) })],
            ]
            try files.append(AuditBundle.decisionsFile, CanonicalJSON.encode(line) + [0x0A])
        }
    }

    /// Writes the key history, each key as PEM and as a signed-note vkey named `origin`.
    private static func writeKeys(_ history: [SigningKeyRecord], origin: String, to files: BundleWriter) throws {
        var keys: [JSONValue] = []
        for k in history {
            guard let raw = Data(base64Encoded: k.publicKey).map(Array.init), raw.count == 32 else {
                throw TrialGateError(.storeCorrupt, "key \(k.keyID) in event \(k.seq) is not a 32-byte Ed25519 key")
            }
            let vkey = try NoteVerifierKey(name: origin, publicKey: raw).vkey
            try files.write("keys/\(k.keyID).pem", Array(TrialKey.publicKeyPEM(raw).utf8))
            try files.write("keys/\(k.keyID).vkey", Array((vkey + "\n").utf8))
            keys.append(["seq": .number(Double(k.seq)), "key_id": .string(k.keyID), "public_key": .string(k.publicKey),
                         "vkey": .string(vkey), "pem_file": .string("keys/\(k.keyID).pem")])
        }
        try files.write(AuditBundle.keysFile, CanonicalJSON.encode(.array(keys)) + [0x0A])
    }

    /// Writes each registered model's artifact as stored (`models/<id>@<version>.json`) and their list (`models.json`).
    /// Read as stored, not decoded: a forged registration goes into the bundle for its verifiers to reject.
    private static func writeModels(_ events: [Event], to files: BundleWriter) throws {
        var models: [JSONValue] = []
        var used = Set<String>()
        for e in events {
            let id = e.payload["model_id"]?.stringValue ?? "", version = e.payload["version"]?.stringValue ?? ""
            let safe = (try? RecordSchema.validateIdentifier(id, what: "")) != nil && (try? RecordSchema.validateIdentifier(version, what: "")) != nil
            // A name that could leave the folder, or one used already (a forged second registration), is not used.
            let named = "models/\(id)@\(version).json"
            let file = safe && !used.contains(named) ? named : "models/event-\(e.seq).json"
            used.insert(file)
            try files.write(file, Array((e.payload["artifact"]?.stringValue ?? "").utf8))
            models.append(["seq": .number(Double(e.seq)), "model_id": .string(id), "version": .string(version),
                           "artifact_sha256": e.payload["artifact_sha256"] ?? .null, "file": .string(file)])
        }
        try files.write(AuditBundle.modelsFile, CanonicalJSON.encode(.array(models)) + [0x0A])
    }

    /// Writes the policies as published (the log's text, not files on disk).
    private static func writePolicies(_ published: [PublishedPolicy], to files: BundleWriter) throws {
        var policies: [JSONValue] = []
        for p in published {
            let file = "policies/\(p.seq)-\(p.id)-\(p.version).yaml"
            try files.write(file, Array(p.text.utf8))
            policies.append(["seq": .number(Double(p.seq)), "policy_id": .string(p.id), "version": .string(p.version),
                             "sha256": .string(p.sha256), "file": .string(file)])
        }
        try files.write(AuditBundle.policiesFile, CanonicalJSON.encode(.array(policies)) + [0x0A])
    }
}
