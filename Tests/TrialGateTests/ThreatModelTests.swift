import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore

/// The repository root, for running `audit/verify_bundle.py`.
private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A demo log, a checkpoint and vkey a regulator saved, and bundles to tamper with.
final class ThreatScene {
    let f: Fixture
    let vkey: String
    /// The newest checkpoint when the regulator last looked.
    let savedCheckpoint: String

    init(keySeed: UInt8 = 7) throws {
        f = try Fixture(policy: ShippedPolicies.sanetEP, keySeed: keySeed)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        vkey = try f.run(.publicKey)["vkey"]!.stringValue!
        savedCheckpoint = try f.run(.checkpoint(size: nil))["note"]!.stringValue!
    }

    func export(_ name: String) throws -> String {
        let dir = f.dir.path + "/" + name
        _ = try f.dispatcher.exportBundle(to: DirectoryBundleSink(root: URL(fileURLWithPath: dir)), exportedAt: f.clock.now())
        return dir
    }
}

/// Edits a bundle the way an attacker with the files would, then fixes the manifest so only deeper checks can tell.
struct BundleEditor {
    let dir: String

    func lines(_ file: String) throws -> [String] {
        try String(contentsOfFile: dir + "/" + file, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func write(_ file: String, _ lines: [String]) throws {
        try Data((lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")).utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
    }

    /// Re-seals events from index `from` on so the chain links again (what an attacker without the key can do).
    func rechain(_ events: [String], from: Int = 0) throws -> [String] {
        var out = events
        var prev = from == 0 ? Event.genesisHash : Digest.sha256Hex(Array(events[from - 1].utf8))
        for i in from..<out.count {
            let e = try Event(json: try JSONParser.parse(Array(out[i].utf8)))
            let sealed = HashChain.seal(e.draft, seq: Int64(i + 1), prevHash: prev)
            out[i] = String(decoding: sealed.canonicalBody, as: UTF8.self)
            prev = sealed.hash
        }
        return out
    }

    func fixManifest() throws {
        let url = URL(fileURLWithPath: dir + "/manifest.json")
        guard case .object(var m) = try JSONParser.parse(Array(try Data(contentsOf: url))), case .object(var files) = m["files"]! else { return }
        for path in files.keys { files[path] = .string(Digest.sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + path))))) }
        m["files"] = .object(files)
        try Data((CanonicalJSON.string(.object(m)) + "\n").utf8).write(to: url)
    }
}

private func codes(_ r: BundleVerification) -> Set<String> { Set(r.problems.map(\.code)) }

/// Runs the independent verifier; returns (exit status, output).
private func pythonVerify(_ dir: String, _ extra: [String] = []) throws -> (Int32, String) {
    try shell(["python3", repoRoot + "/audit/verify_bundle.py", dir] + extra)
}

@Suite("Threat model: each attack in docs/threat-model.md and the check that catches it")
struct ThreatModelTests {
    @Test("an untouched bundle passes both verifiers, with the saved checkpoint and the trusted vkey")
    func honest() throws {
        let s = try ThreatScene()
        let dir = try s.export("b")
        let r = BundleVerifier.verify(directory: dir, trustedKeys: [try NoteVerifierKey(vkey: s.vkey)], savedCheckpoint: s.savedCheckpoint)
        #expect(r.valid, "\(r.problems)")
        #expect(r.decisions == 16 && r.inclusionProofs == 16 && r.decisionsReproduced == 16)
        try Data(s.savedCheckpoint.utf8).write(to: URL(fileURLWithPath: s.f.dir.path + "/saved.note"))
        let (status, out) = try pythonVerify(dir, ["--vkey", s.vkey, "--checkpoint", s.f.dir.path + "/saved.note"])
        #expect(status == 0, "\(out)")
        #expect(try s.f.run(.verify(checkpoint: s.savedCheckpoint, vkey: s.vkey))["valid"] == true)
    }

    /// Each row: an edit of the bundle, the codes the Swift verifier must report (any of), the code Python must print.
    static let bundleRows: [(name: String, swift: Set<String>, python: String)] = [
        ("edit an event", ["chain_broken", "checkpoint_root"], "chain_broken"),
        ("edit an event and re-chain", ["checkpoint_root", "checkpoint_signature"], "checkpoint_root"),
        ("delete an event in the middle", ["chain_broken"], "chain_broken"),
        ("reorder two events", ["chain_broken"], "chain_broken"),
        ("insert a forged event and re-chain", ["checkpoint_root"], "checkpoint_root"),
        ("forge a decision's outcome", ["bad_signature"], "bad_signature"),
        ("replay a decision onto another candidate", ["invalid_event", "bad_signature", "decision_context"], "decision_context"),
        ("edit a policy file in the bundle", ["policy_file"], "policy_file"),
        ("drop a decision from decisions.jsonl", ["decision_missing"], "decision_missing"),
        ("edit a file without fixing the manifest", ["manifest"], "manifest"),
    ]

    @Test("tampered bundles are refused by both verifiers, naming the problem", arguments: 0..<bundleRows.count)
    func tamperedBundle(row: Int) throws {
        let (name, swiftCodes, pythonCode) = Self.bundleRows[row]
        let s = try ThreatScene()
        let dir = try s.export("b")
        let ed = BundleEditor(dir: dir)
        var events = try ed.lines(AuditBundle.eventsFile)
        let ki67 = events.firstIndex { $0.contains("\"ki67.recorded\"") && $0.contains("NET-003") }!
        let decisions = events.indices.filter { events[$0].contains("\"decision.issued\"") }
        switch name {
        case "edit an event":
            events[ki67] = events[ki67].replacingOccurrences(of: "\"percent\":35", with: "\"percent\":5")
        case "edit an event and re-chain":
            events[ki67] = events[ki67].replacingOccurrences(of: "\"percent\":35", with: "\"percent\":5")
            events = try ed.rechain(events, from: ki67)
        case "delete an event in the middle":
            events.remove(at: ki67)
        case "reorder two events":
            events.swapAt(ki67, ki67 + 1)
        case "insert a forged event and re-chain":
            events.insert(events[ki67].replacingOccurrences(of: "\"percent\":35", with: "\"percent\":4"), at: ki67 + 1)
            events = try ed.rechain(events, from: ki67 + 1)
        case "forge a decision's outcome":
            let d = decisions.first { events[$0].contains("\"outcome\":\"ineligible\"") }!
            events[d] = events[d].replacingOccurrences(of: "\"outcome\":\"ineligible\"", with: "\"outcome\":\"eligible\"")
            events = try ed.rechain(events, from: d)
        case "replay a decision onto another candidate":
            // The last decision's payload, copied as a new decision event about another candidate at the end.
            let last = try Event(json: try JSONParser.parse(Array(events[decisions.last!].utf8)))
            let other = try Event(json: try JSONParser.parse(Array(events[decisions.first!].utf8)))
            var draft = last.draft
            draft.candidate = other.candidate
            events.append(String(decoding: HashChain.seal(draft, seq: Int64(events.count + 1), prevHash: Digest.sha256Hex(Array(events.last!.utf8))).canonicalBody, as: UTF8.self))
        case "edit a policy file in the bundle":
            let file = try FileManager.default.contentsOfDirectory(atPath: dir + "/policies")[0]
            let text = try String(contentsOfFile: dir + "/policies/" + file, encoding: .utf8)
            try Data(text.replacingOccurrences(of: "gte: 18", with: "gte: 16").utf8).write(to: URL(fileURLWithPath: dir + "/policies/" + file))
            #expect(text.contains("gte: 18"), "the shipped policy admits adults only")
        case "drop a decision from decisions.jsonl":
            try ed.write(AuditBundle.decisionsFile, Array(try ed.lines(AuditBundle.decisionsFile).dropFirst()))
        case "edit a file without fixing the manifest":
            try ed.write(AuditBundle.checkpointsFile, Array(try ed.lines(AuditBundle.checkpointsFile).dropLast()))
        default:
            Issue.record("unknown row \(name)")
        }
        try ed.write(AuditBundle.eventsFile, events)
        if name != "edit a file without fixing the manifest" { try ed.fixManifest() }

        let r = BundleVerifier.verify(directory: dir)
        #expect(!r.valid, "\(name): the Swift verifier accepted it")
        #expect(!codes(r).isDisjoint(with: swiftCodes), "\(name): got \(codes(r))")
        let (status, out) = try pythonVerify(dir)
        #expect(status == 1, "\(name): \(out)")
        #expect(out.contains(": \(pythonCode): "), "\(name): \(out)")
    }

    @Test("delete the tail, or hand over an older copy: only a checkpoint saved earlier can tell, and it does")
    func truncationAndRollback() throws {
        let s = try ThreatScene()
        let older = try s.export("older")
        // More happens after the older copy; the regulator saves the newer checkpoint.
        _ = try s.f.run(.withdraw(candidate: "NET-001", category: .other, reason: "moved away"))
        _ = try s.f.run(.decide(candidate: "NET-002"))
        let saved = try s.f.run(.checkpoint(size: nil))["note"]!.stringValue!
        try Data(saved.utf8).write(to: URL(fileURLWithPath: s.f.dir.path + "/saved.note"))
        // An older bundle is internally sound...
        #expect(BundleVerifier.verify(directory: older).valid)
        // ...but does not extend what the regulator saw.
        let r = BundleVerifier.verify(directory: older, savedCheckpoint: saved)
        #expect(codes(r).contains("log_truncated"))
        let (status, out) = try pythonVerify(older, ["--checkpoint", s.f.dir.path + "/saved.note"])
        #expect(status == 1 && out.contains("log_truncated"), "\(out)")

        // The same on the store: an older copy of the SQLite file, checked against the saved checkpoint.
        s.f.store.close()
        let copy = s.f.dir.path + "/older.sqlite"
        let (cpStatus, cpOut) = try shell(["sqlite3", s.f.storePath, ".backup '\(copy)'"])
        #expect(cpStatus == 0, "\(cpOut)")
        let (delStatus, delOut) = try shell(["sqlite3", copy, """
            DROP TRIGGER events_no_delete; DROP TRIGGER checkpoints_no_delete; DROP TRIGGER merkle_nodes_no_delete;
            DELETE FROM events WHERE seq > 90; DELETE FROM checkpoints WHERE size > 90;
            DELETE FROM merkle_nodes WHERE (idx + 1) * (1 << level) > 90;
            """])
        #expect(delStatus == 0, "\(delOut)")
        let cut = try EventStore.open(path: copy)
        let d = Dispatcher(store: cut, clock: s.f.clock, key: { s.f.key })
        #expect(try d.execute(.verify(), actor: "regulator")["valid"] == true, "a clean cut is internally sound")
        let v = try d.execute(.verify(checkpoint: saved, vkey: s.vkey), actor: "regulator")
        #expect(v["valid"] == false)
        #expect(v["problems"]?.arrayValue?.contains { $0["code"] == "log_truncated" } == true, "\(v)")
    }

    @Test("delete the tail but keep the checkpoints table: verify alone notices")
    func tailDeletedCheckpointsKept() throws {
        let s = try ThreatScene()
        s.f.store.close()
        let (status, out) = try shell(["sqlite3", s.f.storePath, """
            DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq > 80;
            """])
        #expect(status == 0, "\(out)")
        let d = Dispatcher(store: try EventStore.open(path: s.f.storePath), clock: s.f.clock, key: { s.f.key })
        let v = try d.execute(.verify(), actor: "regulator")
        #expect(v["problems"]?.arrayValue?.contains { $0["code"] == "checkpoint_beyond_log" } == true, "\(v)")
    }

    @Test("a log rewritten by someone without the key: the saved checkpoint shows a fork")
    func forkDetected() throws {
        let s = try ThreatScene()
        let forged = try s.f.forgedCopyLoweringKi67(of: "NET-003")
        let v = try Dispatcher(store: forged, clock: s.f.clock, key: { s.f.key })
            .execute(.verify(checkpoint: s.savedCheckpoint, vkey: nil), actor: "regulator")
        #expect(v["problems"]?.arrayValue?.contains { $0["code"] == "log_forked" } == true, "\(v)")
    }

    @Test("an older checkpoint's signature spoiled with sqlite3: its root still matches, so verify passes on the newest signature; --every-checkpoint names it, in the store and in both bundle verifiers")
    func olderCheckpointSignatureSpoiled() throws {
        let s = try ThreatScene()
        let stored = try s.f.store.checkpoints()
        let older = stored[stored.count / 2]
        #expect(older.size < stored.last!.size)
        // Keep the signature line's key name and key id (so it still names the key in force) and flip one bit of the
        // Ed25519 signature: a file-level attacker's edit that leaves the root, and so the tree, untouched.
        let (text, lines) = try SignedNote.parse(older.note)
        var raw = lines[0].keyID + lines[0].signature
        raw[raw.count - 1] ^= 1
        let spoiled = text + "\n— \(lines[0].name) \(Data(raw).base64EncodedString())\n"
        try Insider(path: s.f.storePath).sql("DROP TRIGGER checkpoints_no_update; UPDATE checkpoints SET note = \(Insider.quoted(spoiled)) WHERE size = \(older.size);")

        let byDefault = try s.f.run(.verify())
        #expect(byDefault["valid"] == true, "\(byDefault)")
        #expect(byDefault["checkpoint_signatures_checked"]?.intValue == 1 && byDefault["checkpoints_checked"]?.intValue == stored.count)
        let every = try s.f.run(.verify(everyCheckpoint: true))
        #expect(every["valid"] == false && every["checkpoint_signatures_checked"]?.intValue == stored.count)
        #expect((every["problems"]?.arrayValue ?? []).contains { $0["code"] == "checkpoint_signature" && $0["seq"]?.intValue == Int(older.size) }, "\(every)")

        let dir = try s.export("spoiled")
        #expect(try BundleEditor(dir: dir).lines("checkpoints.jsonl").contains { $0.contains(Data(raw).base64EncodedString()) })
        #expect(BundleVerifier.verify(directory: dir).valid)
        let r = BundleVerifier.verify(directory: dir, checkpointSignatures: .every)
        #expect(r.problems.contains { $0.code == "checkpoint_signature" && $0.seq == older.size }, "\(r.problems)")
        #expect(try pythonVerify(dir).0 == 0)
        let (status, out) = try pythonVerify(dir, ["--every-checkpoint"])
        #expect(status == 1 && out.contains("checkpoint \(older.size): checkpoint_signature"), "\(out)")
    }

    @Test("swap the public key: a log re-signed end to end with another key fails against the trusted vkey and the saved checkpoint")
    func swappedKey() throws {
        let real = try ThreatScene()
        let attacker = try ThreatScene(keySeed: 9)
        let dir = try attacker.export("forged")
        #expect(BundleVerifier.verify(directory: dir).valid, "internally consistent, as a full re-signing is")
        let r = BundleVerifier.verify(directory: dir, trustedKeys: [try NoteVerifierKey(vkey: real.vkey)], savedCheckpoint: real.savedCheckpoint)
        #expect(codes(r).contains("untrusted_key"))
        #expect(codes(r).contains("log_forked"))
        #expect(codes(BundleVerifier.verify(directory: dir, savedCheckpoint: real.savedCheckpoint)).contains("checkpoint_signature"))
        let (status, out) = try pythonVerify(dir, ["--vkey", real.vkey])
        #expect(status == 1 && out.contains("untrusted_key"), "\(out)")
        let pinned = try attacker.f.run(.verify(checkpoint: real.savedCheckpoint, vkey: real.vkey))
        #expect(pinned["problems"]?.arrayValue?.contains { $0["code"] == "untrusted_key" } == true, "\(pinned)")
        let unpinned = try attacker.f.run(.verify(checkpoint: real.savedCheckpoint, vkey: nil))
        #expect(unpinned["problems"]?.arrayValue?.contains { $0["code"] == "checkpoint_signature" } == true, "\(unpinned)")
    }

    @Test("edit the policy file on disk: decisions and replay use the policy text in the log, so nothing changes")
    func policyOnDisk() throws {
        let s = try ThreatScene()
        let before = try s.f.run(.replay)
        // The shipped file is not what decisions are made from: decide again with a different text on disk.
        let edited = ShippedPolicies.sanetEP.replacingOccurrences(of: "gte: 18", with: "gte: 16")
        #expect(edited != ShippedPolicies.sanetEP)
        let again = try s.f.run(.decide(candidate: "NET-003"))
        #expect(again["outcome"] == "ineligible", "Ki-67 35 % stays a G3 exclusion under the logged policy")
        #expect(try s.f.run(.replay)["reproduced"]!.intValue! == before["reproduced"]!.intValue! + 1)
        // Publishing the edit is the only way to change the rules, and it is a logged, attributed event.
        let published = try s.f.run(.policyPublish(text: edited.replacingOccurrences(of: "version: \"2.0.0\"", with: "version: \"2.0.1\""), file: "edited.yaml"), as: "admin")
        #expect(published["seq"] != nil)
    }

    @Test("key rotation: the new key is announced under the old one, old decisions and checkpoints stay valid")
    func keyRotation() throws {
        let s = try ThreatScene()
        let newKey = try TrialKey(seed: Array(repeating: 11, count: 32))
        let rotated = try s.f.run(.keyRotate(newKey: newKey), as: "admin")
        #expect(rotated["key_id"]?.stringValue == newKey.keyID)
        // The same dispatcher now signs with the new key; a dispatcher with the old key is refused.
        let d = try s.f.run(.decide(candidate: "NET-002"))
        #expect(d["decision"]?["key_id"]?.stringValue == newKey.keyID)
        let stale = Dispatcher(store: s.f.store, clock: s.f.clock, key: { s.f.key })
        #expect((try? stale.execute(.decide(candidate: "NET-002"), actor: "c")) == nil)
        let keys = try s.f.run(.publicKey)
        #expect(keys["keys"]?.arrayValue?.count == 2)
        #expect(try s.f.run(.head)["key_id"]?.stringValue == newKey.keyID)
        // Reports check each decision with the key it names: old and new signatures are both valid.
        let report = try s.f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"))
        let statuses = Set((report["screening_log"]?.arrayValue ?? []).compactMap { $0["signature"]?.stringValue })
        #expect(statuses.isSubset(of: ["valid", "none"]) && statuses.contains("valid"), "\(statuses)")
        let v = try s.f.run(.verify(checkpoint: s.savedCheckpoint, vkey: s.vkey))
        #expect(v["valid"] == true, "\(v)")
        let dir = try s.export("rotated")
        let r = BundleVerifier.verify(directory: dir, trustedKeys: [try NoteVerifierKey(vkey: s.vkey)], savedCheckpoint: s.savedCheckpoint)
        #expect(r.valid, "\(r.problems)")
        let (status, out) = try pythonVerify(dir, ["--vkey", s.vkey])
        #expect(status == 0 && out.contains("1 key rotations"), "\(out)")
        // A rotation whose signature is swapped is caught.
        let ed = BundleEditor(dir: dir)
        var events = try ed.lines(AuditBundle.eventsFile)
        let i = events.firstIndex { $0.contains("\"key.rotated\"") }!
        let e = try Event(json: try JSONParser.parse(Array(events[i].utf8)))
        var draft = e.draft
        guard case .object(var p) = draft.payload else { return }
        p["new_key_signature"] = p["signature"]
        draft.payload = .object(p)
        events[i] = String(decoding: HashChain.seal(draft, seq: e.seq, prevHash: e.prevHash).canonicalBody, as: UTF8.self)
        try ed.write(AuditBundle.eventsFile, try ed.rechain(events, from: i))
        try ed.fixManifest()
        #expect(codes(BundleVerifier.verify(directory: dir)).contains("bad_signature"))
        let (s2, o2) = try pythonVerify(dir)
        #expect(s2 == 1 && o2.contains("bad_signature"), "\(o2)")
    }
}
