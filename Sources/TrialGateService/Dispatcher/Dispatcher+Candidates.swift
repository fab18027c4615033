import TrialGateCore

extension Dispatcher {
    /// The statuses a candidate can have (`ScreeningStatus`).
    public static let candidateStatuses = ["pending", "eligible", "ineligible", "needs_review", "stale", "withdrawn"]

    /// Registered candidates after registration seq `after`, in registration order, with `site` and `status` when
    /// given, at most `limit` of them; read from the report state (folded on from the newest report snapshot).
    func listCandidates(site: String?, status: String?, after: Int64, limit: Int?) throws -> CandidatesReply {
        let store = try requireStore()
        if let status, !Self.candidateStatuses.contains(status) {
            throw TrialGateError(.invalidField, "status must be one of \(Self.candidateStatuses.joined(separator: ", ")), got \"\(status)\"")
        }
        if let limit, let problem = Command.pageLimitProblem(limit) { throw TrialGateError(.invalidField, "limit \(problem)") }
        guard after >= 0 else { throw TrialGateError(.invalidField, "after must be 0 or a registration seq, got \(after)") }
        let state = try reportState(through: try store.head().size).state
        var rows: [CandidatesReply.Row] = []
        var nextAfter: Int64?
        for c in state.candidates.values.sorted(by: { $0.registeredSeq < $1.registeredSeq }) where c.registeredSeq > after {
            if let site, c.site != site { continue }
            let shown = c.status(state.policies)
            if let status, shown != status { continue }
            if let limit, rows.count == limit {
                nextAfter = rows.last?.registeredSeq
                break
            }
            rows.append(.init(candidate: c.id, site: c.site, status: shown, registeredSeq: c.registeredSeq, registeredAt: c.registeredAt.description,
                              decisionSeq: c.latest?.seq, outcome: c.latest?.outcome, confirmed: c.confirmed(state.policies), withdrawnSeq: c.withdrawal?.seq))
        }
        return CandidatesReply(candidates: rows, nextAfter: nextAfter)
    }
}
