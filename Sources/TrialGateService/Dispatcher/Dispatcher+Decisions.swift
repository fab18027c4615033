import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Decisions in log order after `after`, filtered; with a `limit`, one page: `next_after` is where the next
    /// page starts (null on the last page). Events are read one at a time, so memory is bounded by the page.
    func listDecisions(candidate: String?, outcome: String?, site: String?, after: Int64 = 0, limit: Int? = nil,
                       standing wanted: String? = nil) throws -> DecisionsReply {
        let store = try requireStore()
        if let outcome, Outcome(rawValue: outcome) == nil {
            throw TrialGateError(.invalidField, "outcome must be eligible, ineligible or needs_review, got \"\(outcome)\"")
        }
        var rows: [DecisionsReply.Row] = []
        var nextAfter: Int64?
        // Each decision's standing needs its candidate's later events and the policies published since.
        let policies = try publishedPolicies()
        var folded: [String: CandidateState] = [:]
        func row(_ e: Event, _ d: JSONValue) throws -> DecisionsReply.Row {
            guard let id = e.candidate else {
                return .init(seq: e.seq, candidate: nil, decision: d, standing: "current", supersededBy: nil, lifecycle: nil)
            }
            let c = try folded[id] ?? foldCandidate(id)
            folded[id] = c
            if c.decisions.last?.seq != e.seq {
                return .init(seq: e.seq, candidate: id, decision: d, standing: "superseded",
                             supersededBy: c.decisions.first { $0.seq > e.seq }?.seq, lifecycle: nil)
            }
            return .init(seq: e.seq, candidate: id, decision: d, standing: c.staleCauses(policies: policies).isEmpty ? "current" : "stale",
                         supersededBy: nil, lifecycle: DecisionStanding(c, policies: policies))
        }
        func visit(_ e: Event) throws -> Bool {
            guard e.seq > after, let d = Self.listedDecision(e) else { return true }
            if let outcome, d["outcome"]?.stringValue != outcome { return true }
            if let site, d["site"]?.stringValue != site { return true }
            let r = try row(e, d)
            if let wanted, r.standing != wanted { return true }
            if let limit, rows.count == limit {
                // One more match exists: the page is full and another follows.
                nextAfter = rows.last?.seq
                return false
            }
            rows.append(r)
            return true
        }
        if let candidate {
            for e in try store.events(candidate: candidate, types: [.decisionIssued]) where try !visit(e) { break }
        } else {
            try store.forEachEvent(types: [.decisionIssued], after: after, visit)
        }
        return DecisionsReply(decisions: rows, count: rows.count, nextAfter: nextAfter)
    }

    /// The signed decision a `decision.issued` event carries, as stored, whatever the shape of the rest of its payload
    /// (a listing does not refuse a forged log; `verify` reports it); one without a `decision` member is not listed.
    static func listedDecision(_ e: Event) -> JSONValue? { e.payload["decision"] }
}
