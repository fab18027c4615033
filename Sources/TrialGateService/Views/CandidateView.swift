import TrialGateCore

/// A candidate's state and history as `show` answers it, and the digest of a whole fold.
enum CandidateView {
    static func reply(_ c: CandidateState, events: [Event], policies: [PublishedPolicy], asOfSeq: Int64?, asOfTime: UTCTimestamp?) -> CandidateReply {
        // Facts as the current clinical model reads them: by observation time, with units.
        let current = c.currentFacts(model: .observationTime)
        let facts = current.facts.mapValues { f in
            CandidateReply.Fact(value: f.value, evidence: f.evidence, observedOn: f.observedOn?.description, unit: f.unit)
        }
        let superseded = current.superseded.map { s in
            CandidateReply.Superseded(fact: s.fact, value: s.value, seq: s.seq, observedOn: s.observedOn?.description, bySeq: s.bySeq, why: s.why, unit: s.unit)
        }
        return CandidateReply(
            candidate: c.id, site: c.site, registeredSeq: c.registeredSeq, status: c.status(policies: policies),
            decision: DecisionStanding(c, policies: policies), queries: c.queries.map(QueryView.init), facts: facts, superseded: superseded,
            history: events.map { HistoryEntry($0, of: c) },
            asOf: .init(seq: asOfSeq, time: asOfTime?.description, lastSeq: c.lastSeq),
            withdrawal: c.withdrawal.map { .init(seq: $0.seq, category: $0.category?.rawValue, reason: $0.reason, timestamp: $0.timestamp.description, actor: $0.actor) })
    }

    /// A canonical summary of the whole folded state; equal summaries mean equal replays.
    static func stateDigestInput(_ state: LogState) -> JSONValue {
        var candidates: [String: JSONValue] = [:]
        for (id, c) in state.candidates {
            var facts: [String: JSONValue] = [:]
            for (name, f) in c.facts() { facts[name] = ["value": f.value, "evidence": .array(f.evidence.map { .number(Double($0)) })] }
            candidates[id] = [
                "site": .string(c.site), "facts": .object(facts), "withdrawn": .bool(c.isWithdrawn),
                "decisions": .array(c.decisions.map { ["seq": .number(Double($0.seq)), "outcome": .string($0.outcome)] }),
            ]
        }
        return [
            "size": .number(Double(state.size)), "head": .string(state.headHash), "candidates": .object(candidates),
            "policies": .array(state.policies.map { ["seq": .number(Double($0.seq)), "sha256": .string($0.sha256)] }),
        ]
    }
}
