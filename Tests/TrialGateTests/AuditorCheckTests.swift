import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore

/// One check of the log auditor, the attack only it names, and the problem it must report. Each row fails if
/// that one check is taken out of `LogAuditor` or `Dispatcher.audit`, whatever the other checks still find.
struct AuditorCheck: CustomTestStringConvertible, Sendable {
    let check: String
    let code: String
    /// The event the problem must be reported at (nil: any; `afterScene`: the first event after the scene's).
    let seq: Int64?
    static let afterScene: Int64 = -1
    let attack: @Sendable (TrustScene) throws -> Void

    var testDescription: String { "\(check) → \(code)" }

    /// Rewrites the stored row `seq` (body, hash and prev_hash) with the triggers dropped, as an insider can.
    static func rewrite(_ s: TrustScene, seq: Int64, body: String, hash: String? = nil, prevHash: String? = nil) throws {
        let h = hash ?? Digest.sha256Hex(Array(body.utf8))
        try s.insider.sql("""
            DROP TRIGGER IF EXISTS events_no_update;
            UPDATE events SET body = \(Insider.quoted(body)), hash = \(Insider.quoted(h))\(prevHash.map { ", prev_hash = \(Insider.quoted($0))" } ?? "")
            WHERE seq = \(seq);
            """)
    }

    static func stored(_ s: TrustScene, _ seq: Int64) throws -> Event { try s.f.store.event(seq: seq)! }

    /// The scene: 1 trial, 2 policy, 3 NET-1 registered, 4 its Ki-67, 5 a decision, 6 a clinical record.
    static let rows: [AuditorCheck] = [
        AuditorCheck(check: "hash", code: "hash_mismatch", seq: 4) { s in
            let body = String(decoding: try stored(s, 4).canonicalBody, as: UTF8.self).replacingOccurrences(of: #""percent":8"#, with: #""percent":9"#)
            try rewrite(s, seq: 4, body: body, hash: try stored(s, 4).hash)
        },
        AuditorCheck(check: "link", code: "chain_broken", seq: 4) { s in
            // A body that hashes right but names another predecessor.
            let (event, body) = HashChain.sealWithBody(try stored(s, 4).draft, seq: 4, prevHash: String(repeating: "ab", count: 32))
            try rewrite(s, seq: 4, body: String(decoding: body, as: UTF8.self), hash: event.hash, prevHash: event.prevHash)
        },
        AuditorCheck(check: "canonical form", code: "not_canonical", seq: 4) { s in
            let body = String(decoding: try stored(s, 4).canonicalBody, as: UTF8.self).replacingOccurrences(of: #""percent":8"#, with: #""percent": 8"#)
            try rewrite(s, seq: 4, body: body)
        },
        AuditorCheck(check: "decision signature", code: "bad_signature", seq: 5) { s in
            let e = try stored(s, 5)
            guard case .object(var p) = e.payload, let sig = p["signature"]?.stringValue else { throw TrialGateError(.internal, "no decision") }
            var bytes = Array(Data(base64Encoded: sig)!)
            bytes[0] ^= 1
            p["signature"] = .string(Data(bytes).base64EncodedString())
            var draft = e.draft
            draft.payload = .object(p)
            let (event, body) = HashChain.sealWithBody(draft, seq: 5, prevHash: e.prevHash)
            try rewrite(s, seq: 5, body: String(decoding: body, as: UTF8.self), hash: event.hash)
        },
        AuditorCheck(check: "checkpoint root", code: "checkpoint_root", seq: nil) { s in
            // The Ki-67 changed and every later event re-chained: hashes and links hold, only the signed roots differ.
            var prev = try stored(s, 3).hash
            for seq in Int64(4)...(try s.f.store.head().size) {
                var draft = try stored(s, seq).draft
                if seq == 4 { draft.payload = ["percent": 9, "specimen_date": "2026-03-02", "method": "manual_count"] }
                let (event, body) = HashChain.sealWithBody(draft, seq: seq, prevHash: prev)
                try rewrite(s, seq: seq, body: String(decoding: body, as: UTF8.self), hash: event.hash, prevHash: event.prevHash)
                prev = event.hash
            }
        },
        AuditorCheck(check: "coverage of the head", code: "head_uncovered", seq: AuditorCheck.afterScene) { s in try s.forgeKi67() },
        AuditorCheck(check: "key chain", code: "bad_signature", seq: AuditorCheck.afterScene) { s in
            let attacker = try TrialKey(seed: Array(repeating: 66, count: 32))
            let publicKey = Data(attacker.publicKey).base64EncodedString()
            try s.insider.appendForged(EventDraft(timestamp: s.f.clock.now(), actor: "admin", type: .keyRotated, candidate: nil, payload: [
                "previous_key_id": .string(s.f.key.keyID), "public_key": .string(publicKey), "key_id": .string(attacker.keyID),
                "signature": .string(Data(repeating: 1, count: 64).base64EncodedString()),
                "new_key_signature": .string(Data(repeating: 2, count: 64).base64EncodedString()),
            ]), after: try s.f.store.head())
        },
        AuditorCheck(check: "column agreement", code: "column_mismatch", seq: 4) { s in
            try s.insider.sql("DROP TRIGGER events_no_update; UPDATE events SET actor = 'dr.nobody' WHERE seq = 4;")
        },
        AuditorCheck(check: "checkpoint signature", code: "checkpoint_signature", seq: nil) { s in
            let other = try TrialKey(seed: Array(repeating: 42, count: 32))
            let head = try s.f.store.head()
            let note = try Checkpoint(origin: "trialgate.test/T-1", size: head.size, root: try s.insider.root(of: s.f.store))
                .signed(by: [try NoteSigner(name: "trialgate.test/T-1", key: other)])
            try s.insider.sql("DROP TRIGGER checkpoints_no_delete; DELETE FROM checkpoints WHERE size = \(head.size);"
                              + " INSERT INTO checkpoints (size, issued_at, note) VALUES (\(head.size), '2026-07-01T09:00:00.000Z', \(Insider.quoted(note)));")
        },
    ]
}

@Suite("Each check of the log auditor, pinned: the attack only it catches, and its problem code")
struct AuditorCheckTests {
    @Test("the honest scene verifies with no problem")
    func honestScene() throws {
        let s = try Self.scene()
        let r = try s.verify()
        #expect(r["valid"] == true, "\(r)")
    }

    @Test("each check reports its own problem code at the event that shows it", arguments: AuditorCheck.rows)
    func checkIsPinned(_ row: AuditorCheck) throws {
        let s = try Self.scene()
        let want = row.seq == AuditorCheck.afterScene ? try s.f.size() + 1 : row.seq
        try row.attack(s)
        let r = try s.verify()
        #expect(r["valid"] == false)
        let found = s.problems(r)
        #expect(found.contains { $0.code == row.code && (want == nil || $0.seq == Int(want!)) },
                "\(row.check): expected \(row.code)\(want.map { " at \($0)" } ?? ""), got \(found)")
    }

    static func scene() throws -> TrustScene {
        let s = try TrustScene()
        _ = try s.f.run(.decide(candidate: "NET-1"))                                                  // 5
        try s.f.run(.record(kind: "clinical", candidate: "NET-1", fields: ["assessed_on": "2026-03-02", "ecog": 1]))  // then queries
        return s
    }
}
