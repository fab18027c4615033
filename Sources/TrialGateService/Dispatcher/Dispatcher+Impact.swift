import TrialGateAudit
import TrialGateCore

extension Dispatcher {
    /// Evaluates an amended policy next to the policy in force, on every registered candidate's facts now and on
    /// today's date, and lists each candidate whose outcome would change, with the criteria that change. Nothing
    /// is recorded: an amendment can be tried before it is published.
    func policyImpact(text: String, file: String) throws -> PolicyImpactReply {
        let amended = try PolicyLoader.load(text, file: file)
        let state = try fold(asOfSeq: nil, asOfTime: nil)
        try requireTrial(state)
        guard let published = state.policyInForce else {
            throw TrialGateError(.noPolicy, "no policy has been published; there is nothing to compare with")
        }
        let inForce = try policy(for: published)
        let today = clock.now().date
        var changed: [PolicyImpactReply.Change] = []
        var compared = 0
        for c in state.candidates.values.sorted(by: { $0.id < $1.id }) where !c.isWithdrawn {
            compared += 1
            let models = ModelEvidence(state, candidate: c)
            let before = PolicyEvaluator.evaluate(inForce, facts: c.facts(model: inForce.clinicalModel), models: models, on: today)
            let after = PolicyEvaluator.evaluate(amended, facts: c.facts(model: amended.clinicalModel), models: models, on: today)
            guard before.outcome != after.outcome else { continue }
            let old = Dictionary(before.criteria.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var criteria: [PolicyImpactReply.CriterionChange] = []
            for n in after.criteria where old[n.id]?.result != n.result {
                criteria.append(.init(id: n.id, from: old[n.id]?.result.rawValue, to: n.result.rawValue, reason: n.reason))
            }
            let newIDs = Set(after.criteria.map(\.id))
            for o in before.criteria where !newIDs.contains(o.id) {
                criteria.append(.init(id: o.id, from: o.result.rawValue, to: nil, reason: "not in the amended policy"))
            }
            changed.append(.init(candidate: c.id, site: c.site, from: before.outcome.rawValue, to: after.outcome.rawValue,
                                 latestDecision: c.decisions.last?.seq, criteria: criteria))
        }
        return PolicyImpactReply(inForce: .init(id: inForce.id, version: inForce.version, sha256: published.sha256, seq: published.seq),
                                 amended: .init(id: amended.id, version: amended.version, sha256: Digest.sha256Hex(text)),
                                 date: today.description, compared: compared, changed: changed)
    }
}
