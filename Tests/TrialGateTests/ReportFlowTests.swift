import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService

@Suite("The report's CONSORT flow")
struct ReportFlowTests {
    /// The terminal boxes' counts (no arrow leaves them), by box.
    static func terminals(_ f: ReportFlow) -> [String: Int] {
        ["excluded": f.excluded.total, "no_decision": f.undecided.noDecision, "needs_review": f.undecided.needsReview, "stale": f.undecided.stale,
         "withdrawn_before": f.withdrawnBeforeEligible.total, "withdrawn_after": f.withdrawnAfterEligible.total,
         "awaiting": f.awaitingSignoff, "overridden": f.overriddenIneligible, "confirmed": f.confirmedEligible]
    }

    /// The flow's own sums: every box that leads on is the sum of where its candidates go.
    static func expectConsistent(_ f: ReportFlow, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(terminals(f).values.reduce(0, +) == f.assessed, sourceLocation: sourceLocation)
        #expect(f.assessed == f.excluded.total + f.undecided.total + f.withdrawnBeforeEligible.total + f.eligible, sourceLocation: sourceLocation)
        #expect(f.eligible == f.withdrawnAfterEligible.total + f.awaitingSignoff + f.overriddenIneligible + f.confirmedEligible,
                sourceLocation: sourceLocation)
        #expect(f.undecided.total == f.undecided.noDecision + f.undecided.needsReview + f.undecided.stale, sourceLocation: sourceLocation)
        #expect(f.withdrawnBeforeEligible.byCategory.values.reduce(0, +) == f.withdrawnBeforeEligible.total, sourceLocation: sourceLocation)
        #expect(f.withdrawnAfterEligible.byCategory.values.reduce(0, +) == f.withdrawnAfterEligible.total, sourceLocation: sourceLocation)
    }

    @Test("on the demo log every candidate lands in exactly one terminal box, and the boxes agree with the screening log")
    func demoAddsUp() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let reply = try f.dispatcher.perform(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"), actor: "sponsor")
        let r = try reply.decode(ReportReply.self)
        let flow = r.consort.flow
        Self.expectConsistent(flow)
        #expect(flow.assessed == 17 && flow.assessed == r.screeningLog.count)
        // Counted again from the screening log's rows, by a rule written here.
        let log = r.screeningLog
        #expect(flow.excluded.total == log.filter { $0.status == "ineligible" }.count)
        #expect(flow.excluded.failedMoreThanOne == log.filter { $0.status == "ineligible" && $0.failed.count > 1 }.count)
        #expect(flow.excluded.failedMoreThanOne == 4)
        #expect(flow.excluded.byCriterion.values.reduce(0, +) > flow.excluded.total)
        #expect(flow.confirmedEligible == log.filter { $0.status == "eligible" && $0.confirmed == "eligible" }.count)
        #expect(flow.undecided.stale == 1 && flow.undecided.needsReview == 3 && flow.undecided.noDecision == 0)
        // NET-013 withdrew consent before any decision.
        #expect(flow.withdrawnBeforeEligible == .init(total: 1, byCategory: ["withdrew_consent": 1]))
        #expect(log.first { $0.candidate == "NET-013" }?.withdrawalCategory == "withdrew_consent")
        let html = ReportHTML.render(r)
        #expect(html.contains("Withdrawn during assessment (n=1)") && html.contains("• Withdrew consent: 1"))
        #expect(html.contains("of whom 4 failed more than one criterion,"))
    }

    /// A report candidate registered at `seq`.
    static func candidate(_ id: String, _ seq: Int64) -> ReportCandidate {
        ReportCandidate(id: id, registeredSeq: seq, registeredAt: UTCTimestamp("2026-07-01T09:00:00Z")!, site: "S1", consentDate: .null)
    }

    static func decided(_ c: ReportCandidate, _ seq: Int64, _ outcome: String, failed: [String] = []) -> ReportCandidate {
        var c = c
        var results = ["A": "pass", "B": "pass", "C": "pass"]
        for id in failed { results[id] = "fail" }
        if outcome == "needs_review" { results["C"] = "unknown" }
        c.latest = ReportDecision(seq: seq, timestamp: c.registeredAt, outcome: outcome, results: results, verdict: .valid, policy: "p@1")
        c.decisionCount = 1
        c.firstDecisionAt = c.registeredAt
        return c
    }

    static func signed(_ c: ReportCandidate, _ meaning: SignOffMeaning) -> ReportCandidate {
        var c = c
        c.signOff = ReportSignOff(seq: c.latest!.seq + 1, timestamp: c.registeredAt, signer: "ivy", printedName: "Dr Ivy", meaning: meaning, reason: nil)
        return c
    }

    static func withdrawn(_ c: ReportCandidate, _ seq: Int64, _ category: WithdrawalCategory?) -> ReportCandidate {
        var c = c
        c.withdrawal = (seq, category, category == nil ? "moved away" : nil, c.registeredAt)
        if c.latest != nil { c.changesSinceDecision.append(StaleCause(seq: seq, type: .candidateWithdrawn, detail: "candidate.withdrawn")) }
        return c
    }

    /// One candidate for each terminal box, with the box it must land in.
    static let synthetic: [(ReportCandidate, String)] = {
        var stale = decided(candidate("S-1", 100), 101, "eligible")
        stale.changesSinceDecision = [StaleCause(seq: 102, type: .clinicalRecorded, detail: "clinical.recorded")]
        var staleThenWithdrawn = decided(candidate("W-3", 200), 201, "eligible")
        staleThenWithdrawn.changesSinceDecision = [StaleCause(seq: 202, type: .clinicalRecorded, detail: "clinical.recorded")]
        return [
            (candidate("P-1", 1), "no_decision"),
            (withdrawn(candidate("W-1", 10), 11, .declinedToParticipate), "withdrawn_before"),
            (withdrawn(decided(candidate("W-2", 20), 21, "eligible"), 22, .adverseEvent), "withdrawn_after"),
            // Its eligible decision was stale when it left: withdrawn during assessment, its category not recorded (an old event).
            (withdrawn(staleThenWithdrawn, 203, nil), "withdrawn_before"),
            (withdrawn(decided(candidate("W-4", 30), 31, "ineligible", failed: ["A"]), 32, .physicianDecision), "withdrawn_before"),
            (decided(candidate("X-1", 40), 41, "ineligible", failed: ["A", "B"]), "excluded"),
            (signed(decided(candidate("X-2", 50), 51, "ineligible", failed: ["A"]), .confirmedIneligible), "excluded"),
            (decided(candidate("R-1", 60), 61, "needs_review"), "needs_review"),
            (stale, "stale"),
            (decided(candidate("E-1", 70), 71, "eligible"), "awaiting"),
            (signed(decided(candidate("E-2", 80), 81, "eligible"), .confirmedEligible), "confirmed"),
            (signed(decided(candidate("E-3", 90), 91, "eligible"), .overriddenIneligible), "overridden"),
        ]
    }()

    static func flow(of candidates: [ReportCandidate]) -> ReportFlow {
        var state = ReportState()
        state.trialID = "T"
        for c in candidates { state.candidates[c.id] = c }
        return ScreeningReport.build(state, filter: .init(), asOf: nil).consort.flow
    }

    @Test("on a synthetic state each candidate lands in exactly its one terminal box, and together they add up",
          arguments: synthetic.map(\.1).indices)
    func syntheticCandidateLandsOnce(_ i: Int) {
        let (c, box) = Self.synthetic[i]
        let counts = Self.terminals(Self.flow(of: [c]))
        #expect(counts.filter { $0.value != 0 } == [box: 1], "\(c.id)")
    }

    @Test("on the synthetic state as a whole: totals, multi-criterion exclusions and withdrawals by category")
    func syntheticAddsUp() {
        let flow = Self.flow(of: Self.synthetic.map(\.0))
        Self.expectConsistent(flow)
        #expect(flow.assessed == Self.synthetic.count)
        #expect(flow.excluded == .init(total: 2, byCriterion: ["A": 2, "B": 1], failedMoreThanOne: 1, confirmed: 1, overriddenEligible: 0))
        #expect(flow.withdrawnBeforeEligible.byCategory == ["declined_to_participate": 1, "not_recorded": 1, "physician_decision": 1])
        #expect(flow.withdrawnAfterEligible.byCategory == ["adverse_event": 1])
        #expect(flow.eligible == 4)
        let html = ReportFlowSVG.render(flow)
        #expect(html.contains("• Category not recorded: 1") && html.contains("• Adverse event: 1"))
        #expect(html.contains("so the criterion counts sum to more than 2"))
        // Every arrow names two boxes that are drawn.
        let boxes = Set(html.matches(of: /data-box="([a-z-]+)"/).map { String($0.output.1) })
        let arrows = html.matches(of: /data-from="([a-z-]+)" data-to="([a-z-]+)"/).map { (String($0.output.1), String($0.output.2)) }
        #expect(boxes.count == 9 && arrows.count == 8)
        #expect(arrows.allSatisfy { boxes.contains($0.0) && boxes.contains($0.1) })
        #expect(Set(arrows.map(\.1)) == boxes.subtracting(["assessed"]))
    }

    @Test("histogram ticks are round numbers from 0 up to at least the largest count, at most six of them",
          arguments: [0, 1, 4, 5, 6, 17, 99, 100, 101, 2_500])
    func ticks(_ top: Int) {
        let t = ReportCharts.ticks(upTo: top)
        #expect(t.first == 0 && t.last! >= top && t.count >= 2 && t.count <= 6, "\(t)")
        let step = t[1] - t[0]
        #expect(t.indices.dropFirst().allSatisfy { t[$0] - t[$0 - 1] == step })
        #expect(String(step).dropFirst().allSatisfy { $0 == "0" } && ["1", "2", "5"].contains(String(String(step).first!)))
    }
}
