import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore

@Suite("Screening through the dispatcher")
struct ScreeningTests {
    static let ki67: JSONValue = ["percent": 8, "specimen_date": "2026-03-02", "method": "manual_count"]

    func registered() throws -> Fixture {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "C-1", fields: ["site": "S1"]))
        return f
    }

    @Test("the demo scenario reaches every outcome, verifies and replays")
    func demoScenario() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let results = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        for r in results {
            #expect(r.decision?["outcome"]?.stringValue == r.candidate.expected?.rawValue, "\(r.candidate.id)")
        }
        #expect(Set(results.compactMap { $0.decision?["outcome"]?.stringValue }) == Set(Outcome.allCases.map(\.rawValue)))
        let verify = try f.run(.verify())
        #expect(verify["valid"] == true)
        // 16 decisions, 12 investigators' sign-offs and 68 signed attestations.
        #expect(verify["signatures_checked"]?.intValue == 96)
        let replay = try f.run(.replay)
        #expect(replay["reproduced"]?.intValue == 16)
        #expect(replay["mismatched"]?.intValue == 0)
    }

    @Test("replaying twice gives the same state and the same decisions")
    func replayIsDeterministic() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let a = try f.run(.replay)
        // A second process opening the same file must fold to the same state.
        let other = try EventStore.open(path: f.storePath)
        let b = try Dispatcher(store: other, clock: f.clock, key: { throw TrialGateError(.internal, "no key needed") }).execute(.replay, actor: "regulator")
        #expect(a["state_sha256"] == b["state_sha256"])
        #expect(a == b)
    }

    @Test("bad input is refused with a named error and appends nothing", arguments: [
        (Command.record(kind: "ki67", candidate: "C-404", fields: ScreeningTests.ki67), "unknown_candidate"),
        (.register(candidate: "C-1", fields: ["site": "S1"]), "duplicate_candidate"),
        (.register(candidate: "Jane Doe", fields: ["site": "S1"]), "invalid_field"),
        (.register(candidate: "C-3", fields: ["site": "Site One"]), "invalid_field"),
        (.correct(seq: 3, field: "site", value: "Site One", reason: "typo"), "invalid_field"),
        (.register(candidate: "C-2", fields: ["site": "S1", "date_of_birth": "1960-01-01"]), "unknown_field"),
        (.record(kind: "ki67", candidate: "C-1", fields: ["percent": 101, "specimen_date": "2026-03-02", "method": "manual_count"]), "invalid_field"),
        (.record(kind: "ki67", candidate: "C-1", fields: ["percent": -1, "specimen_date": "2026-03-02", "method": "manual_count"]), "invalid_field"),
        (.record(kind: "ki67", candidate: "C-1", fields: ["percent": 5, "specimen_date": "2026-07-02", "method": "manual_count"]), "invalid_field"),
        (.record(kind: "ki67", candidate: "C-1", fields: ["percent": 5, "specimen_date": "2026-03-02"]), "missing_field"),
        (.record(kind: "ki67", candidate: "C-1", fields: ["percent": 5, "specimen_date": "2026-03-02", "method": "manual_count", "name": "Jane"]), "unknown_field"),
        (.record(kind: "sstr", candidate: "C-1", fields: ["status": "positive", "modality": "octreoscan", "krenning_score": 5, "study_date": "2026-03-02"]), "invalid_field"),
        (.record(kind: "model-score", candidate: "C-1", fields: ["model": "m", "version": "1", "artifact_sha256": .string(String(repeating: "a", count: 64)), "score": 1.2, "predicts": "response", "study_date": "2026-03-02"]), "invalid_field"),
        (.record(kind: "blood-type", candidate: "C-1", fields: [:]), "invalid_field"),
        (.correct(seq: 4, field: "percent", value: 9, reason: "  "), "missing_field"),
        (.correct(seq: 4, field: "percent", value: 150, reason: "typo"), "invalid_field"),
        (.correct(seq: 4, field: "colour", value: 1, reason: "typo"), "not_correctable"),
        (.correct(seq: 2, field: "text", value: "x", reason: "typo"), "not_correctable"),
        (.correct(seq: 999, field: "percent", value: 9, reason: "typo"), "unknown_event"),
        (.decide(candidate: "C-404"), "unknown_candidate"),
    ])
    func badInput(command: Command, code: String) throws {
        let f = try registered()
        try f.run(.record(kind: "ki67", candidate: "C-1", fields: Self.ki67))  // event 4
        let before = try f.store.head()
        #expect(f.errorCode(command) == code)
        #expect(try f.store.head() == before)
    }

    @Test("deciding with no published policy is refused and appends nothing")
    func decideWithoutPolicy() throws {
        let f = try Fixture()
        try f.run(.register(candidate: "C-1", fields: ["site": "S1"]))
        #expect(f.errorCode(.decide(candidate: "C-1")) == "no_policy")
        #expect(try f.size() == 2)
    }

    @Test("a malformed policy is refused at publication")
    func malformedPolicy() throws {
        let f = try Fixture()
        #expect(f.errorCode(.policyPublish(text: "policy: p\nversion: 1\ncriteria: []\n", file: "p.yaml")) == "invalid_policy")
        #expect(try f.size() == 1)
    }

    @Test("a correction keeps the old value, needs a reason, and changes the decision")
    func correction() throws {
        let f = try registered()
        try f.run(.record(kind: "ki67", candidate: "C-1", fields: ["percent": 28, "specimen_date": "2026-03-02", "method": "manual_count"]))
        f.clock.advance(seconds: 60)
        try f.run(.correct(seq: 4, field: "percent", value: 18, reason: "transcription error"), as: "monitor")
        let shown = try f.run(.show(candidate: "C-1", asOfSeq: nil, asOfTime: nil))
        let record = shown["history"]!.arrayValue!.first { $0["seq"]?.intValue == 4 }!
        #expect(record["payload"]?["percent"] == 28)
        #expect(record["current"]?["percent"] == 18)
        let k = record["corrections"]!.arrayValue![0]
        #expect(k["old_value"] == 28 && k["new_value"] == 18 && k["reason"] == "transcription error" && k["actor"] == "monitor")
        #expect(shown["facts"]?["ki67.percent"]?["value"] == 18)
        #expect(shown["facts"]?["ki67.percent"]?["evidence"] == [4, 5])
        // As of the original record, the old value stands.
        let before = try f.run(.show(candidate: "C-1", asOfSeq: 4, asOfTime: nil))
        #expect(before["facts"]?["ki67.percent"]?["value"] == 28)
        let atTime = try f.run(.show(candidate: "C-1", asOfSeq: nil, asOfTime: UTCTimestamp("2026-07-01T09:00:30Z")))
        #expect(atTime["facts"]?["ki67.percent"]?["value"] == 28)
    }

    @Test("nothing more is recorded or decided for a withdrawn candidate")
    func withdrawn() throws {
        let f = try registered()
        try f.run(.withdraw(candidate: "C-1", category: .other, reason: "consent withdrawn"))
        #expect(f.errorCode(.record(kind: "ki67", candidate: "C-1", fields: Self.ki67)) == "candidate_withdrawn")
        #expect(f.errorCode(.decide(candidate: "C-1")) == "candidate_withdrawn")
    }

    @Test("a decision is signed over its canonical bytes and names its evidence and log state")
    func decisionContents() throws {
        let f = try registered()
        try f.run(.record(kind: "ki67", candidate: "C-1", fields: Self.ki67))
        try f.run(.record(kind: "pathology", candidate: "C-1", fields: ["specimen_date": "2026-03-02", "primary_organ": "C17.2", "tumour_type": "NET",
                                                                         "differentiation": "well", "review": "central"]))
        let r = try f.run(.decide(candidate: "C-1"))
        let d = r["decision"]!
        #expect(d["outcome"] == "needs_review")
        #expect(d["log"]?["size"] == 5)
        #expect(d["decided_by"] == "coordinator")
        #expect(d["decided_at"] == "2026-07-01T09:00:00.000Z")
        #expect(d["key_id"]?.stringValue == f.key.keyID)
        let grade = d["criteria"]!.arrayValue!.first { $0["id"] == "I3-grade" }!
        #expect(grade["result"] == "pass" && grade["evidence"] == [4, 5])
        let age = d["criteria"]!.arrayValue!.first { $0["id"] == "I2-age" }!
        #expect(age["result"] == "unknown" && age["reason"] == "clinical.age not recorded")
        let sig = Array(Data(base64Encoded: r["signature"]!.stringValue!)!)
        #expect(SignatureCheck.verify(signature: sig, message: CanonicalJSON.encode(d), publicKey: f.key.publicKey))
        var tampered = CanonicalJSON.encode(d)
        tampered[tampered.count / 2] ^= 1
        #expect(!SignatureCheck.verify(signature: sig, message: tampered, publicKey: f.key.publicKey))
    }

    @Test("a decision made with a key other than the trial's is refused")
    func wrongKey() throws {
        let f = try registered()
        let other = Dispatcher(store: f.store, clock: f.clock, key: { TrialKey.generate() })
        #expect(throws: TrialGateError.self) { try other.execute(.decide(candidate: "C-1"), actor: "x") }
        #expect(try f.size() == 3)
    }

    @Test("the protocol answers one JSON line per request line with the request's id")
    func protocolLines() throws {
        let f = try registered()
        let ok = f.dispatcher.handle(line: Array(#"{"id":7,"cmd":"record","kind":"ki67","candidate":"C-1","fields":{"percent":8,"specimen_date":"2026-03-02","method":"manual_count"}}"#.utf8), actor: "c") ?? ""
        #expect(ok.hasPrefix("{\"id\":7,\"ok\":true"))
        let bad = f.dispatcher.handle(line: Array(#"{"id":8,"cmd":"decide","candidate":"C-404"}"#.utf8), actor: "c")
        #expect(bad == #"{"error":{"code":"unknown_candidate","message":"no candidate \"C-404\" is registered"},"id":8,"ok":false}"#)
        let spoof = f.dispatcher.handle(line: Array(#"{"id":9,"cmd":"withdraw","candidate":"C-1","category":"withdrew_consent","reason":"r","actor":"someone-else"}"#.utf8), actor: "c") ?? ""
        #expect(spoof.contains("\"code\":\"unknown_field\""))
        let garbage = f.dispatcher.handle(line: Array("{not json".utf8), actor: "c") ?? ""
        #expect(garbage.contains("\"code\":\"invalid_json\""))
        #expect(try f.size() == 4)
    }
}

@Suite("Group commit")
struct BatchTests {
    @Test("a batch shares one commit; a failing command in it appends nothing and the others land")
    func batchWithFailure() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let results = try f.dispatcher.executeBatch([
            (.register(candidate: "B-1", fields: ["site": "S1"]), "c"),
            (.record(kind: "ki67", candidate: "B-1", fields: ["percent": 400, "specimen_date": "2026-03-02", "method": "manual_count"]), "c"),
            (.record(kind: "ki67", candidate: "B-1", fields: ScreeningTests.ki67), "c"),
            (.decide(candidate: "B-1"), "c"),
        ])
        #expect(results.count == 4)
        #expect((try? results[1].get()) == nil)
        #expect(try results[2].get()["seq"] == 4)
        #expect(try results[3].get()["decision"]?["log"]?["size"] == 4)
        let queries = Int64(try results[3].get()["queries_opened"]?.arrayValue?.count ?? -1)
        #expect(try f.size() == 5 + queries, "the decision and the review queries it opened")
        #expect(try f.run(.verify())["valid"] == true)
        #expect(try f.run(.replay)["reproduced"] == 1)
    }
}

@Suite("Two writers on one store")
struct TwoWriterTests {
    @Test("a dispatcher notices what another process appended before checking a new event")
    func cacheFollowsOtherWriters() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "X", fields: ["site": "S1"]))
        try f.run(.record(kind: "ki67", candidate: "X", fields: ScreeningTests.ki67))
        let other = Dispatcher(store: try EventStore.open(path: f.storePath), clock: f.clock, key: { f.key })
        _ = try other.execute(.withdraw(candidate: "X", category: .other, reason: "moved away"), actor: "other")
        #expect(f.errorCode(.record(kind: "ki67", candidate: "X", fields: ScreeningTests.ki67)) == "candidate_withdrawn")
        #expect(f.errorCode(.register(candidate: "Y", fields: ["site": "S1"])) == nil)
        _ = try other.execute(.record(kind: "ki67", candidate: "Y", fields: ScreeningTests.ki67), actor: "other")
        let shown = try f.run(.show(candidate: "Y", asOfSeq: nil, asOfTime: nil))
        #expect(shown["history"]?.arrayValue?.count == 2)
        #expect(try f.run(.verify())["valid"] == true)
    }
}
