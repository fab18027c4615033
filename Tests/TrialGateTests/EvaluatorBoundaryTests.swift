import Testing
import TrialGateCore

/// One condition, one observed value, and the verdict the evaluator must give: a value just below, at and just above
/// each bound, so that turning any comparison into its neighbour (`>=` into `>`, `<` into `<=`, …) fails a row.
struct BoundaryCase: CustomTestStringConvertible, Sendable {
    let when: String
    let value: JSONValue
    /// Days between the observation and the decision (nil: the fact has no observation date).
    let ageDays: Int?
    let expected: Verdict

    var testDescription: String { "\(when) with \(CanonicalJSON.string(value))\(ageDays.map { ", \($0) days old" } ?? "") → \(expected.rawValue)" }

    init(_ when: String, _ value: JSONValue, age: Int? = nil, _ expected: Verdict) {
        self.when = when
        self.value = value
        self.ageDays = age
        self.expected = expected
    }

    static let decisionDate = CivilDate("2026-07-01")!

    static let rows: [BoundaryCase] = [
        // Comparisons, each bound approached from both sides.
        BoundaryCase("{fact: clinical.age, gte: 18}", 17.999, .fail), BoundaryCase("{fact: clinical.age, gte: 18}", 18, .pass), BoundaryCase("{fact: clinical.age, gte: 18}", 18.001, .pass),
        BoundaryCase("{fact: clinical.age, gt: 18}", 17.999, .fail), BoundaryCase("{fact: clinical.age, gt: 18}", 18, .fail), BoundaryCase("{fact: clinical.age, gt: 18}", 18.001, .pass),
        BoundaryCase("{fact: clinical.age, lte: 1}", 0.999, .pass), BoundaryCase("{fact: clinical.age, lte: 1}", 1, .pass), BoundaryCase("{fact: clinical.age, lte: 1}", 1.001, .fail),
        BoundaryCase("{fact: clinical.age, lt: 1}", 0.999, .pass), BoundaryCase("{fact: clinical.age, lt: 1}", 1, .fail), BoundaryCase("{fact: clinical.age, lt: 1}", 1.001, .fail),
        BoundaryCase("{fact: clinical.age, eq: 1}", 1, .pass), BoundaryCase("{fact: clinical.age, eq: 1}", 1.001, .fail),
        BoundaryCase("{fact: clinical.age, ne: 1}", 1, .fail), BoundaryCase("{fact: clinical.age, ne: 1}", 0.999, .pass),
        BoundaryCase("{fact: clinical.age, gte: 18}", "eighteen", .unknown),
        BoundaryCase("{fact: clinical.age, in: [G1, G2]}", "G2", .pass), BoundaryCase("{fact: clinical.age, in: [G1, G2]}", "G3", .fail),
        // Observation age: at the limit still counts, one day past it needs a newer value.
        BoundaryCase("{fact: clinical.age, lte: 1, max_age_days: 28}", 1, age: 27, .pass), BoundaryCase("{fact: clinical.age, lte: 1, max_age_days: 28}", 1, age: 28, .pass),
        BoundaryCase("{fact: clinical.age, lte: 1, max_age_days: 28}", 1, age: 29, .unknown),
        // A date within N days before the decision: N days is in, N + 1 out, a date after the decision out.
        BoundaryCase("{fact: clinical.age, within_days: 365}", "2025-07-01", .pass),   // 365 days
        BoundaryCase("{fact: clinical.age, within_days: 365}", "2025-06-30", .fail),   // 366 days
        BoundaryCase("{fact: clinical.age, within_days: 365}", "2026-07-01", .pass),   // the decision day itself
        BoundaryCase("{fact: clinical.age, within_days: 365}", "2026-07-02", .fail),   // after the decision
        BoundaryCase("{fact: clinical.age, within_months: 12}", "2025-07-01", .pass),  // 12 calendar months
        BoundaryCase("{fact: clinical.age, within_months: 12}", "2025-06-30", .fail),  // a day more
        BoundaryCase("{fact: clinical.age, within_months: 12}", "2026-07-01", .pass),  // the decision day itself
        BoundaryCase("{fact: clinical.age, within_months: 12}", "2026-07-02", .fail),  // after the decision
        // A score gate with a grey zone [0.4, 0.6) and threshold 0.5: the low bound is grey, the high bound is not.
        BoundaryCase("{fact: clinical.age, threshold: 0.5, grey_zone: [0.4, 0.6]}", 0.399, .fail),
        BoundaryCase("{fact: clinical.age, threshold: 0.5, grey_zone: [0.4, 0.6]}", 0.4, .unknown),
        BoundaryCase("{fact: clinical.age, threshold: 0.5, grey_zone: [0.4, 0.6]}", 0.599, .unknown),
        BoundaryCase("{fact: clinical.age, threshold: 0.5, grey_zone: [0.4, 0.6]}", 0.6, .pass),
        // Without a grey zone the threshold itself passes.
        BoundaryCase("{fact: clinical.age, threshold: 0.5}", 0.499, .fail), BoundaryCase("{fact: clinical.age, threshold: 0.5}", 0.5, .pass),
    ]
}

@Suite("The evaluator at every bound")
struct EvaluatorBoundaryTests {
    @Test("each comparison, age limit, date window and score gate at, just below and just above its bound", arguments: BoundaryCase.rows)
    func boundary(_ row: BoundaryCase) throws {
        let policy = try PolicyLoader.load("""
            policy: boundary
            version: "1"
            criteria:
              - id: c
                kind: inclusion
                description: the condition under test
                source: test
                when: \(row.when)
            """, file: "boundary.yaml")
        let observed = row.ageDays.map { CivilDate(daysSinceEpoch: BoundaryCase.decisionDate.daysSinceEpoch - $0) }
        let facts = ["clinical.age": Fact(value: row.value, evidence: [1], observedOn: observed)]
        let result = PolicyEvaluator.evaluate(policy, facts: facts, on: BoundaryCase.decisionDate).criteria[0]
        #expect(result.result.rawValue == row.expected.rawValue, "\(row.testDescription): \(result.reason)")
    }

    @Test("WHO grade bounds: Ki-67 < 3 % is G1, 3–20 % G2, above 20 % G3; mitoses < 2 G1, 2–20 G2, above 20 G3",
          arguments: [(2.999, 1), (3.0, 2), (20.0, 2), (20.001, 3)])
    func ki67Grade(percent: Double, grade: Int) {
        #expect(NETGrade.fromKi67(percent) == grade)
    }

    @Test("mitotic-count grade bounds", arguments: [(1.0, 1), (2.0, 2), (20.0, 2), (21.0, 3)])
    func mitosesGrade(count: Double, grade: Int) {
        #expect(NETGrade.fromMitoses(count) == grade)
    }
}
