import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService

@Suite("Withdrawal categories (CONSORT 2010)")
struct WithdrawalCategoryTests {
    func socket(_ f: Fixture, _ line: String) throws -> JSONValue {
        try JSONParser.parse(f.dispatcher.handle(line: Array(line.utf8), actor: "coordinator") ?? "")
    }

    @Test("a new withdrawal names its category; the reason beside it is optional, but required with other")
    func categoryRequired() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        for id in ["C-1", "C-2", "C-3"] { try f.run(.register(candidate: id, fields: ["site": "S1"])) }
        let before = try f.size()
        let missing = try socket(f, #"{"id":1,"cmd":"withdraw","candidate":"C-1","reason":"moved away"}"#)
        #expect(missing["error"]?["code"] == "missing_field")
        #expect(missing["error"]?["message"]?.stringValue?.contains("\"category\" is required: one of not_meeting_inclusion_criteria, declined_to_participate") == true)
        let unknown = try socket(f, #"{"id":2,"cmd":"withdraw","candidate":"C-1","category":"bored"}"#)
        #expect(unknown["error"]?["code"] == "invalid_field")
        #expect(unknown["error"]?["message"]?.stringValue?.contains("category must be one of") == true)
        #expect(unknown["error"]?["message"]?.stringValue?.contains("got \"bored\"") == true)
        let otherAlone = try socket(f, #"{"id":3,"cmd":"withdraw","candidate":"C-1","category":"other"}"#)
        #expect(otherAlone["error"]?["code"] == "missing_field")
        #expect(otherAlone["error"]?["message"]?.stringValue?.contains("\"reason\" is required when category is other") == true)
        #expect(f.errorCode(.withdraw(candidate: "C-1", category: .other, reason: "  ")) == "missing_field")
        #expect(try f.size() == before)

        let ok = try socket(f, #"{"id":4,"cmd":"withdraw","candidate":"C-1","category":"adverse_event"}"#)
        #expect(ok["ok"] == true)
        try f.run(.withdraw(candidate: "C-2", category: .other, reason: "relocated abroad"))
        let stored = try f.store.events().filter { $0.type == .candidateWithdrawn }.map(\.payload)
        #expect(stored == [["category": "adverse_event"], ["category": "other", "reason": "relocated abroad"]])
        let shown = try f.run(.show(candidate: "C-1", asOfSeq: nil, asOfTime: nil))
        #expect(shown["withdrawal"]?["category"] == "adverse_event" && shown["withdrawal"]?["reason"] == nil)
        #expect(try f.run(.verify())["valid"] == true)
    }

    @Test("a withdrawal written before categories existed still loads, replays and verifies, and reports show it as not recorded")
    func olderWithdrawalStillVerifies() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "OLD-1", fields: ["site": "S1"]))
        // Written as the releases before categories wrote it: a reason alone, under the same event schema.
        _ = try f.dispatcher.append(candidate: "OLD-1", actor: "coordinator") { _, now in
            [EventDraft(timestamp: now, actor: "coordinator", type: .candidateWithdrawn, candidate: "OLD-1", payload: ["reason": "moved away"])]
        }
        let event = try #require(try f.store.events().last)
        #expect(CanonicalJSON.string(event.payload) == #"{"reason":"moved away"}"#)
        #expect(try f.run(.verify())["valid"] == true)
        #expect(try f.run(.replay)["mismatched"] == 0)
        let shown = try f.run(.show(candidate: "OLD-1", asOfSeq: nil, asOfTime: nil))
        #expect(shown["withdrawal"]?["reason"] == "moved away" && shown["withdrawal"]?["category"] == nil)
        let report = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"))
        #expect(report["screening_log"]?.arrayValue?[0]["withdrawal_category"] == "not_recorded")
        #expect(report["consort"]?["flow"]?["withdrawn_before_eligible"]?["by_category"] == ["not_recorded": 1])
        let html = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "html"))["html"]!.stringValue!
        #expect(html.contains("• Category not recorded: 1") && html.contains("category not recorded</strong> — moved away"))
        // The report from a signed snapshot is the same, category or not.
        _ = try f.run(.reportSnapshot, as: "admin")
        #expect(try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json")) == report)
    }

    @Test("a withdrawal with neither a category nor a reason, or an unknown category, fails verify")
    func forgedWithdrawalsFailVerify() throws {
        for payload: JSONValue in [[:], ["category": "bored"], ["category": "other"]] {
            let f = try Fixture(policy: ShippedPolicies.sanetEP)
            try f.run(.register(candidate: "C-1", fields: ["site": "S1"]))
            try f.run(.withdraw(candidate: "C-1", category: .death, reason: nil))
            let forged = try f.forgedCopy { event, draft in
                if event.type == .candidateWithdrawn { draft.payload = payload }
            }
            let d = Dispatcher(store: forged, clock: f.clock, key: { f.key })
            // The forged copy has no checkpoint, so `valid` is false anyway: the withdrawal itself must be named.
            let withdrawal = try forged.events().first { $0.type == .candidateWithdrawn }!.seq
            let verdict = try d.perform(.verify(), actor: "admin").decode(VerifyReply.self)
            #expect(verdict.problems.contains { $0.seq == withdrawal && $0.code == "invalid_event" }, "\(payload): \(verdict.problems)")
        }
    }

    @Test("the categories are the documented snake_case codes, each with a label")
    func codes() {
        #expect(WithdrawalCategory.codes == ["not_meeting_inclusion_criteria", "declined_to_participate", "withdrew_consent", "lost_to_follow_up",
                                             "adverse_event", "physician_decision", "death", "other"])
        #expect(Set(WithdrawalCategory.allCases.map(\.label)).count == WithdrawalCategory.allCases.count)
        #expect(throws: TrialGateError.self) { try WithdrawalCategory.parse("Death") }
    }
}
