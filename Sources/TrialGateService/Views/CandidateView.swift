import TrialGateCore

/// JSON renderings of a candidate's state and history.
enum CandidateView {
    static func json(_ c: CandidateState, events: [Event], policies: [PublishedPolicy], asOfSeq: Int64?, asOfTime: UTCTimestamp?) -> JSONValue {
        // Facts as the current clinical model reads them: by observation time, with units.
        let current = c.currentFacts(model: .observationTime)
        var facts: [String: JSONValue] = [:]
        for (name, f) in current.facts {
            var o: [String: JSONValue] = ["value": f.value, "evidence": .array(f.evidence.map { .number(Double($0)) }),
                                          "observed_on": .from(f.observedOn?.description)]
            if let unit = f.unit { o["unit"] = .string(unit) }
            facts[name] = .object(o)
        }
        let superseded: [JSONValue] = current.superseded.map { s in
            var o: [String: JSONValue] = ["fact": .string(s.fact), "value": s.value, "seq": .number(Double(s.seq)),
                                          "observed_on": .from(s.observedOn?.description), "by_seq": .number(Double(s.bySeq)), "why": .string(s.why)]
            if let unit = s.unit { o["unit"] = .string(unit) }
            return .object(o)
        }
        let history: [JSONValue] = events.map { e in
            var o: [String: JSONValue] = [
                "seq": .number(Double(e.seq)), "timestamp": .string(e.timestamp.description), "actor": .string(e.actor),
                "type": .string(e.type.rawValue),
            ]
            switch e.type {
            case .decisionIssued:
                o["outcome"] = e.payload["decision"]?["outcome"] ?? .null
                o["policy"] = e.payload["decision"]?["policy"] ?? .null
            case .decisionSigned:
                o["statement"] = e.payload["statement"] ?? .null
                o["signature"] = e.payload["signature"] ?? .null
            default:
                o["payload"] = e.payload
            }
            if let record = c.record(seq: e.seq) {
                o["corrections"] = .array(record.corrections.map(correction))
                o["current"] = record.current
            }
            return .object(o)
        }
        var out: [String: JSONValue] = [
            "candidate": .string(c.id), "site": .string(c.site), "registered_seq": .number(Double(c.registeredSeq)),
            "status": .string(c.status(policies: policies)),
            "decision": c.lifecycleJSON(policies: policies),
            "queries": .array(c.queries.map(\.json)),
            "facts": .object(facts), "superseded": .array(superseded), "history": .array(history),
            "as_of": ["seq": .from(asOfSeq.map(Int.init)), "time": .from(asOfTime?.description), "last_seq": .number(Double(c.lastSeq))],
        ]
        if let w = c.withdrawal {
            out["withdrawal"] = ["seq": .number(Double(w.seq)), "reason": .string(w.reason), "timestamp": .string(w.timestamp.description), "actor": .string(w.actor)]
        }
        return .object(out)
    }

    static func correction(_ k: CorrectionEntry) -> JSONValue {
        ["seq": .number(Double(k.seq)), "timestamp": .string(k.timestamp.description), "actor": .string(k.actor), "field": .string(k.field),
         "old_value": k.oldValue, "new_value": k.newValue, "reason": .string(k.reason)]
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
