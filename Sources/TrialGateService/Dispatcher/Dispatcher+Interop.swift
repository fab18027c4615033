import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// The log folded up to `through` (default: the head), the time of its first and newest events, and its
    /// candidates registered after `after` (of `site`, if given) in registration order: one page of at most `limit`,
    /// and the registration seq the next page starts after (nil on the last).
    private func interopPage(through: Int64?, site: String?, after: Int64, limit: Int)
        throws -> (state: LogState, started: UTCTimestamp, head: UTCTimestamp, all: [CandidateState], page: [CandidateState], nextAfter: Int64?) {
        if let problem = Command.pageLimitProblem(limit) { throw TrialGateError(.invalidField, "limit \(problem)") }
        let store = try requireStore()
        let size = try store.head().size
        if let through, through > size { throw TrialGateError(.invalidField, "through must be at most the log's size, \(size), got \(through)") }
        let state = try fold(asOfSeq: through ?? size, asOfTime: nil)
        guard state.size > 0 else { throw TrialGateError(.notInitialised, "the store holds no trial yet") }
        let started = try store.events(from: 1, through: 1).first!.timestamp
        let head = try store.events(from: state.size, through: state.size).first!.timestamp
        let all = state.candidates.values.filter { site == nil || $0.site == site }.sorted { $0.registeredSeq < $1.registeredSeq }
        let rest = all.drop(while: { $0.registeredSeq <= after })
        let page = Array(rest.prefix(limit))
        return (state, started, head, all, page, rest.count > limit ? page.last?.registeredSeq : nil)
    }

    /// One page of the ODM 1.3.2 document (`ODMExport`).
    func exportODM(through: Int64?, site: String?, after: Int64, limit: Int) throws -> ODMExportReply {
        let p = try interopPage(through: through, site: site, after: after, limit: limit)
        let ctx = ODMExport.Context(state: p.state, trialStarted: p.started, head: p.head)
        var xml = after == 0 ? ODMExport.prologue(ctx, candidates: p.all) : ""
        for c in p.page { xml += ODMExport.subject(c, ctx) }
        if p.nextAfter == nil { xml += ODMExport.epilogue }
        return ODMExportReply(logSize: p.state.size, xml: xml, nextAfter: p.nextAfter)
    }

    /// One page of the SDTM IE domain (`SDTMIE`).
    func exportSDTMIE(through: Int64?, site: String?, after: Int64, limit: Int) throws -> SDTMIEReply {
        let p = try interopPage(through: through, site: site, after: after, limit: limit)
        let rows = SDTMIE.rows(p.page, trialID: p.state.trial?.trialID ?? "", policies: p.state.policies)
        return SDTMIEReply(logSize: p.state.size, logTime: p.head.description, records: rows, nextAfter: p.nextAfter)
    }
}
