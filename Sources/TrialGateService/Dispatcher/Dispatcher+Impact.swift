import TrialGateAudit
import TrialGateCore

extension Dispatcher {
    /// Evaluates an amended policy next to the policy in force, on every registered candidate's facts now and on
    /// today's date, and lists each candidate whose outcome would change, with the criteria that change. Nothing
    /// is recorded: an amendment can be tried before it is published.
    func policyImpact(text: String, file: String) throws -> JSONValue {
        let amended = try PolicyLoader.load(text, file: file)
        let state = try fold(asOfSeq: nil, asOfTime: nil)
        try requireTrial(state)
        guard let published = state.policyInForce else {
            throw TrialGateError(.noPolicy, "no policy has been published; there is nothing to compare with")
        }
        let inForce = try policy(for: published)
        let today = clock.now().date
        var changed: [JSONValue] = []
        var compared = 0
        for c in state.candidates.values.sorted(by: { $0.id < $1.id }) where !c.isWithdrawn {
            compared += 1
            let before = PolicyEvaluator.evaluate(inForce, facts: c.facts(model: inForce.clinicalModel), on: today)
            let after = PolicyEvaluator.evaluate(amended, facts: c.facts(model: amended.clinicalModel), on: today)
            guard before.outcome != after.outcome else { continue }
            let old = Dictionary(before.criteria.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var criteria: [JSONValue] = []
            for n in after.criteria where old[n.id]?.result != n.result {
                criteria.append(["id": .string(n.id), "from": .from(old[n.id]?.result.rawValue), "to": .string(n.result.rawValue), "reason": .string(n.reason)])
            }
            let newIDs = Set(after.criteria.map(\.id))
            for o in before.criteria where !newIDs.contains(o.id) {
                criteria.append(["id": .string(o.id), "from": .string(o.result.rawValue), "to": nil, "reason": "not in the amended policy"])
            }
            changed.append([
                "candidate": .string(c.id), "site": .string(c.site), "from": .string(before.outcome.rawValue), "to": .string(after.outcome.rawValue),
                "latest_decision": .from(c.decisions.last.map { Int($0.seq) }), "criteria": .array(criteria),
            ])
        }
        return [
            "in_force": ["id": .string(inForce.id), "version": .string(inForce.version), "sha256": .string(published.sha256), "seq": .number(Double(published.seq))],
            "amended": ["id": .string(amended.id), "version": .string(amended.version), "sha256": .string(Digest.sha256Hex(text))],
            "date": .string(today.description), "compared": .number(Double(compared)), "changed": .array(changed),
        ]
    }
}
