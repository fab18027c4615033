import TrialGateCore
import Testing
import TrialGateModels
import TrialGatePolicies
@testable import TrialGateCore

@Suite("Policies: loading, grading and evaluation")
struct PolicyTests {
    @Test("WHO 2019 grade from Ki-67", arguments: [(0.0, 1), (2.9, 1), (3.0, 2), (20.0, 2), (20.1, 3), (80.0, 3)])
    func gradeFromKi67(percent: Double, grade: Int) {
        #expect(NETGrade.fromKi67(percent) == grade)
    }

    @Test("WHO 2019 grade from mitoses per 2 mm²", arguments: [(0.0, 1), (1.0, 1), (2.0, 2), (20.0, 2), (21.0, 3)])
    func gradeFromMitoses(count: Double, grade: Int) {
        #expect(NETGrade.fromMitoses(count) == grade)
    }

    @Test("each shipped policy loads under clinical model 2 and passes its case table, reaching every outcome")
    func shippedCaseTables() throws {
        for shipped in ShippedPolicies.all {
            let policy = try PolicyLoader.load(shipped.policy, file: shipped.file)
            #expect(policy.clinicalModel == .observationTime, "\(shipped.file)")
            let table = try PolicyCaseTable.load(shipped.cases, file: shipped.file)
            let models = policy.modelGates.isEmpty ? [] : [try RegisteredModel(
                payload: try RegisteredModel.payload(card: try JSONParser.parse(ShippedModels.card), artifact: ShippedModels.artifact,
                                                     settings: ShippedModels.settings), seq: 1, registeredAt: UTCTimestamp(millisecondsSinceEpoch: 0))]
            let results = table.run(policy, models: models)
            for r in results where !r.passed { Issue.record("\(shipped.file): \(r.name): \(r.failures)") }
            #expect(Set(results.compactMap { $0.evaluation?.outcome }) == Set(Outcome.allCases), "\(shipped.file)")
            // Every criterion of the policy is named by at least one case's expectations.
            let named = Set(table.cases.flatMap(\.expectCriteria.keys))
            for c in policy.criteria where !named.contains(c.id) && c.attestation == nil {
                Issue.record("\(shipped.file): no case names criterion \(c.id)")
            }
        }
    }

    @Test("a case table catches a wrong expectation")
    func caseTableDetectsWrongExpectation() throws {
        let policy = try PolicyLoader.load(Self.tiny)
        let table = try PolicyCaseTable.load("""
            decision_date: 2026-01-10
            cases:
              - name: ecog 3 is not eligible
                expect: eligible
                records:
                  register: {site: S1}
                  clinical: {assessed_on: 2026-01-05, ecog: 3}
            """)
        let r = table.run(policy)
        #expect(r.count == 1 && !r[0].passed)
        #expect(r[0].failures.first?.contains("expected eligible, got ineligible") == true)
    }

    static let tiny = """
        policy: tiny
        version: "1"
        criteria:
          - id: ecog
            kind: inclusion
            description: ECOG 0-1
            source: test
            when: {fact: clinical.ecog, lte: 1, max_age_days: 28}
        """

    @Test("loading errors name the file, the line and the problem", arguments: [
        ("policy: p\nversion: 1\ncriteria:\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    when: {fact: ki67.percnt, lt: 3}\n", "p.yaml:8:", "unknown fact \"ki67.percnt\""),
        ("policy: p\nversion: 1\ncriteria:\n  - id: a\n    kind: maybe\n    description: d\n    source: s\n    when: {fact: grade, eq: G1}\n", "p.yaml:4:", "inclusion or exclusion"),
        ("policy: p\nversion: 1\ncriteria:\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    when: {fact: clinical.ecog, lte: one}\n", "p.yaml:8:", "lte needs a number"),
        ("policy: p\nversion: 1\ncriteria:\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    when: {fact: model_score.score, threshold: 0.5, grey_zone: [0.6, 0.7]}\n", "p.yaml:8:", "must contain the threshold"),
        ("policy: p\nversion: 1\ncriteria:\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    colour: red\n    when: {fact: grade, eq: G1}\n", "p.yaml:8:", "unknown key \"colour\""),
        ("policy: p\nversion: 1\ncriteria: [\n", "p.yaml:", "YAML syntax error"),
        ("policy: p\nversion: 1\ncriteria:\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    when: {fact: grade, eq: G1}\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    when: {fact: grade, eq: G2}\n", "p.yaml:9:", "used twice"),
    ])
    func loadErrors(text: String, location: String, message: String) {
        do {
            _ = try PolicyLoader.load(text, file: "p.yaml")
            Issue.record("loaded a bad policy")
        } catch let e as TrialGateError {
            #expect(e.code == .invalidPolicy)
            #expect(e.message.hasPrefix(location), "\(e.message)")
            #expect(e.message.contains(message), "\(e.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    static func facts(_ pairs: [String: JSONValue], on: String = "2026-01-05") -> [String: Fact] {
        pairs.mapValues { Fact(value: $0, evidence: [1], observedOn: CivilDate(on)) }
    }

    static let date = CivilDate("2026-01-10")!

    @Test("three-valued logic: all/any/not with missing facts")
    func kleene() throws {
        let present: Condition = .compare(fact: "clinical.ecog", op: .lte, value: 1, maxAgeDays: nil)
        let missing: Condition = .compare(fact: "clinical.age", op: .gte, value: 18, maxAgeDays: nil)
        let failing: Condition = .compare(fact: "clinical.ecog", op: .gte, value: 3, maxAgeDays: nil)
        let f = Self.facts(["clinical.ecog": 1])
        #expect(PolicyEvaluator.evaluate(.all([present, missing]), facts: f, date: Self.date).verdict == .unknown)
        #expect(PolicyEvaluator.evaluate(.all([failing, missing]), facts: f, date: Self.date).verdict == .fail)
        #expect(PolicyEvaluator.evaluate(.any([present, missing]), facts: f, date: Self.date).verdict == .pass)
        #expect(PolicyEvaluator.evaluate(.any([failing, missing]), facts: f, date: Self.date).verdict == .unknown)
        #expect(PolicyEvaluator.evaluate(.not(missing), facts: f, date: Self.date).verdict == .unknown)
        #expect(PolicyEvaluator.evaluate(.not(failing), facts: f, date: Self.date).verdict == .pass)
    }

    @Test("stale data is unknown, fresh data decides")
    func recency() throws {
        let policy = try PolicyLoader.load(Self.tiny)
        #expect(PolicyEvaluator.evaluate(policy, facts: Self.facts(["clinical.ecog": 1], on: "2025-12-01"), on: Self.date).outcome == .needsReview)
        #expect(PolicyEvaluator.evaluate(policy, facts: Self.facts(["clinical.ecog": 1], on: "2025-12-20"), on: Self.date).outcome == .eligible)
        #expect(PolicyEvaluator.evaluate(policy, facts: Self.facts(["clinical.ecog": 2], on: "2025-12-20"), on: Self.date).outcome == .ineligible)
    }

    @Test("score gate: pass, fail and grey zone", arguments: [(0.9, Verdict.pass), (0.65, .pass), (0.64, .unknown), (0.45, .unknown), (0.44, .fail)])
    func scoreGate(score: Double, verdict: Verdict) {
        let gate: Condition = .scoreGate(fact: "model_score.score", threshold: 0.6, greyLow: 0.45, greyHigh: 0.65, maxAgeDays: nil)
        #expect(PolicyEvaluator.evaluate(gate, facts: Self.facts(["model_score.score": .number(score)]), date: Self.date).verdict == verdict)
    }

    @Test("within_days counts back from the decision date and refuses future dates", arguments: [("2025-01-10", Verdict.pass), ("2025-01-09", .fail), ("2026-01-11", .fail)])
    func withinDays(date: String, verdict: Verdict) {
        let c: Condition = .withinDays(fact: "imaging.progression_date", days: 365)
        #expect(PolicyEvaluator.evaluate(c, facts: Self.facts(["imaging.progression_date": .string(date)]), date: Self.date).verdict == verdict)
    }

    @Test("an exclusion that applies makes the candidate ineligible; disabled criteria are skipped")
    func exclusionAndDisabled() throws {
        let policy = try PolicyLoader.load("""
            policy: x
            version: "2"
            criteria:
              - id: E1
                kind: exclusion
                description: G3
                source: s
                when: {fact: grade, eq: G3}
              - id: R1
                kind: inclusion
                description: model
                source: s
                enabled: false
                when: {fact: model_score.score, threshold: 0.5}
            """)
        let g3 = PolicyEvaluator.evaluate(policy, facts: Self.facts(["grade": "G3"]), on: Self.date)
        #expect(g3.outcome == .ineligible)
        #expect(g3.criteria[0].result.rawValue == "fail")
        #expect(g3.criteria[1].result.rawValue == "skipped")
        #expect(PolicyEvaluator.evaluate(policy, facts: Self.facts(["grade": "G2"]), on: Self.date).outcome == .eligible)
    }
}
