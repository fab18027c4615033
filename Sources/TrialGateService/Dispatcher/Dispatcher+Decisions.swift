import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Decisions in log order after `after`, filtered; with a `limit`, one page: `next_after` is where the next
    /// page starts (null on the last page). Events are read one at a time, so memory is bounded by the page.
    func listDecisions(candidate: String?, outcome: String?, site: String?, after: Int64 = 0, limit: Int? = nil,
                       standing wanted: String? = nil) throws -> JSONValue {
        let store = try requireStore()
        if let outcome, Outcome(rawValue: outcome) == nil {
            throw TrialGateError(.invalidField, "outcome must be eligible, ineligible or needs_review, got \"\(outcome)\"")
        }
        var rows: [JSONValue] = []
        var nextAfter: Int64?
        // Each decision's standing needs its candidate's later events and the policies published since.
        let policies = try publishedPolicies()
        var folded: [String: CandidateState] = [:]
        func standing(_ e: Event) throws -> (String, JSONValue) {
            guard let id = e.candidate else { return ("current", .null) }
            let c = try folded[id] ?? foldCandidate(id)
            folded[id] = c
            if c.decisions.last?.seq != e.seq {
                return ("superseded", .from(c.decisions.first { $0.seq > e.seq }.map { Int($0.seq) }))
            }
            return (c.staleCauses(policies: policies).isEmpty ? "current" : "stale", c.lifecycleJSON(policies: policies))
        }
        func visit(_ e: Event) throws -> Bool {
            guard e.seq > after, let d = e.payload["decision"] else { return true }
            if let outcome, d["outcome"]?.stringValue != outcome { return true }
            if let site, d["site"]?.stringValue != site { return true }
            let (st, detail) = try standing(e)
            if let wanted, st != wanted { return true }
            if let limit, rows.count == limit {
                // One more match exists: the page is full and another follows.
                nextAfter = rows.last?["seq"]?.intValue.map(Int64.init)
                return false
            }
            let criteria = d["criteria"]?.arrayValue ?? []
            func ids(_ result: String) -> JSONValue {
                .array(criteria.filter { $0["result"]?.stringValue == result }.compactMap { $0["id"] })
            }
            rows.append([
                "seq": .number(Double(e.seq)), "candidate": .from(e.candidate), "site": d["site"] ?? .null,
                "outcome": d["outcome"] ?? .null, "decided_at": d["decided_at"] ?? .null, "decided_by": d["decided_by"] ?? .null,
                "policy": d["policy"] ?? .null, "failed": ids("fail"), "unknown": ids("unknown"), "needs_attestation": ids("needs_attestation"),
                "standing": .string(st), st == "superseded" ? "superseded_by" : "lifecycle": detail,
            ])
            return true
        }
        if let candidate {
            for e in try store.events(candidate: candidate, types: [.decisionIssued]) where try !visit(e) { break }
        } else {
            try store.forEachEvent(types: [.decisionIssued], after: after, visit)
        }
        return ["decisions": .array(rows), "count": .number(Double(rows.count)), "next_after": .from(nextAfter.map(Int.init))]
    }
}
