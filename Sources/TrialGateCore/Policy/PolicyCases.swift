/// One example candidate with the outcome a policy must give it.
public struct PolicyCase: Sendable {
    public let name: String
    public let line: Int
    public let expect: Outcome
    /// Expected results of named criteria (`pass`, `fail`, `unknown`, `skipped`).
    public let expectCriteria: [String: String]
    /// Records in the order written (`register`, `ki67`, `imaging`, …), each a JSON object of fields; a kind given
    /// a list in the table writes one record per item, in order.
    public let records: [(kind: String, fields: JSONValue)]
}

/// The result of running one case.
public struct PolicyCaseResult: Sendable {
    public let name: String
    public let expected: Outcome
    public let evaluation: Evaluation?
    /// Empty when the case passed; otherwise what differed.
    public let failures: [String]

    public var passed: Bool { failures.isEmpty }
}

/// A table of example candidates for a policy (`trialgate policy test POLICY CASES`).
///
/// Every case goes through the same validation and fold as real events, so a case table also proves that
/// its records would be accepted by the log.
public struct PolicyCaseTable: Sendable {
    /// Cases describe facts, not who signed them: they are folded under event schema 2, whose attestations carry no
    /// investigator's signature (the same facts, the same evaluation).
    static let schemaVersion = 2

    public let decisionDate: CivilDate
    public let cases: [PolicyCase]

    /// Parses a case table (YAML). See `docs/policy-format.md`.
    public static func load(_ text: String, file: String = "cases") throws -> PolicyCaseTable {
        let root = try YAMLNode.parse(text, file: file)
        var m = try root.mapping("the case table")
        let dateNode = try m.required("decision_date")
        guard let date = CivilDate(try dateNode.text("decision_date")) else { throw dateNode.error("decision_date must be YYYY-MM-DD") }
        let list = try m.required("cases").sequence("cases")
        try m.finish(allowed: ["decision_date", "cases"])
        var cases: [PolicyCase] = []
        for item in list {
            var c = try item.mapping("a case")
            let name = try c.required("name").text("name")
            let expectNode = try c.required("expect")
            guard let expect = Outcome(rawValue: try expectNode.text("expect")) else {
                throw expectNode.error("case \(name): expect must be eligible, ineligible or needs_review")
            }
            var expectCriteria: [String: String] = [:]
            if let ec = c.optional("criteria") {
                for (k, v) in try ec.mapping("criteria").entries { expectCriteria[k] = try v.text(k) }
            }
            let recordsNode = try c.required("records")
            var records: [(String, JSONValue)] = []
            for (kind, fields) in try recordsNode.mapping("records").entries {
                guard kind == "register" || EventType.recordKinds[kind] != nil else {
                    throw fields.error("case \(name): unknown record kind \"\(kind)\" (register, \(EventType.recordKinds.keys.sorted().joined(separator: ", ")))")
                }
                let value = try fields.json(kind)
                if let list = value.arrayValue, kind != "register" {
                    records += list.map { (kind, $0) }
                } else {
                    records.append((kind, value))
                }
            }
            try c.finish(allowed: ["name", "expect", "criteria", "records"])
            guard records.first?.0 == "register" else { throw recordsNode.error("case \(name): records must start with register") }
            cases.append(PolicyCase(name: name, line: item.line, expect: expect, expectCriteria: expectCriteria, records: records))
        }
        return PolicyCaseTable(decisionDate: date, cases: cases)
    }

    /// Runs every case against `policy`, with `models` registered for its model gates.
    public func run(_ policy: Policy, models: [RegisteredModel] = []) -> [PolicyCaseResult] {
        cases.enumerated().map { index, c in
            let at = UTCTimestamp(millisecondsSinceEpoch: Int64(decisionDate.daysSinceEpoch) * 86_400_000 + 43_200_000)
            let candidateID = "CASE-\(index + 1)"
            var state = LogState()
            do {
                var seq: Int64 = 1
                for (kind, fields) in c.records {
                    let type = kind == "register" ? EventType.candidateRegistered : EventType.recordKinds[kind]!
                    // Radiomics records exist from event schema 3 on.
                    let version = type == .radiomicsRecorded ? 3 : PolicyCaseTable.schemaVersion
                    let e = Event(seq: seq, timestamp: at, actor: "policy-test", type: type, candidate: candidateID, schemaVersion: version,
                                  payload: fields, prevHash: Event.genesisHash, hash: Event.genesisHash)
                    try state.apply(e, strict: false)
                    seq += 1
                }
            } catch let e as TrialGateError {
                return PolicyCaseResult(name: c.name, expected: c.expect, evaluation: nil, failures: ["records rejected: \(e.message)"])
            } catch {
                return PolicyCaseResult(name: c.name, expected: c.expect, evaluation: nil, failures: ["records rejected: \(error)"])
            }
            let candidate = state.candidates[candidateID]!
            let evidence = ModelEvidence(models: models, candidate: candidate)
            let evaluation = PolicyEvaluator.evaluate(policy, facts: candidate.facts(model: policy.clinicalModel), models: evidence, on: decisionDate)
            var failures: [String] = []
            if evaluation.outcome != c.expect {
                failures.append("expected \(c.expect.rawValue), got \(evaluation.outcome.rawValue)")
            }
            for (id, want) in c.expectCriteria.sorted(by: { $0.key < $1.key }) {
                guard let got = evaluation.criteria.first(where: { $0.id == id }) else {
                    failures.append("criterion \(id) is not in the policy")
                    continue
                }
                if got.result.rawValue != want { failures.append("criterion \(id): expected \(want), got \(got.result.rawValue) (\(got.reason))") }
            }
            return PolicyCaseResult(name: c.name, expected: c.expect, evaluation: evaluation, failures: failures)
        }
    }
}
