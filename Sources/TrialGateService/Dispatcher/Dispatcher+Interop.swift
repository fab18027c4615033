import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// The size of the log an export folds up to: `through`, or the head.
    private func interopSize(_ through: Int64?, limit: Int) throws -> Int64 {
        if let problem = Command.pageLimitProblem(limit) { throw TrialGateError(.invalidField, "limit \(problem)") }
        let size = try requireStore().head().size
        guard size > 0 else { throw TrialGateError(.notInitialised, "the store holds no trial yet") }
        if let through, through > size { throw TrialGateError(.invalidField, "through must be at most the log's size, \(size), got \(through)") }
        return through ?? size
    }

    /// One page of candidates: those registered after registration seq `after` up to event `size` (of `site`, if
    /// given), in registration order, at most `limit`, each folded from its own events up to `size` (so a page costs
    /// its candidates, not the log); and the registration seq the next page starts after (nil on the last).
    private func interopPage(size: Int64, site: String?, after: Int64, limit: Int) throws -> (page: [CandidateState], nextAfter: Int64?) {
        let store = try requireStore()
        var page: [CandidateState] = []
        for registration in try store.events(types: [.candidateRegistered], after: after) where registration.seq <= size {
            guard let id = registration.candidate else { continue }
            let c = try foldCandidate(id, try store.events(candidate: id).filter { $0.seq <= size })
            guard site == nil || c.site == site else { continue }
            if page.count == limit { return (page, page.last?.registeredSeq) }
            page.append(c)
        }
        return (page, nil)
    }

    /// One page of the ODM 1.3.2 document (`ODMExport`): the first page (after 0) folds the whole log for the
    /// document's opening (metadata, users, sites); every page folds only its own candidates.
    func exportODM(through: Int64?, site: String?, after: Int64, limit: Int) throws -> ODMExportReply {
        let store = try requireStore()
        let size = try interopSize(through, limit: limit)
        var xml = ""
        if after == 0 {
            let state = try fold(asOfSeq: size, asOfTime: nil)
            let all = state.candidates.values.filter { site == nil || $0.site == site }.sorted { $0.registeredSeq < $1.registeredSeq }
            let ctx = ODMExport.Context(state: state, trialStarted: try store.event(seq: 1)!.timestamp, head: try store.event(seq: size)!.timestamp)
            xml = ODMExport.prologue(ctx, candidates: all)
        }
        let p = try interopPage(size: size, site: site, after: after, limit: limit)
        for c in p.page { xml += ODMExport.subject(c) }
        if p.nextAfter == nil { xml += ODMExport.epilogue }
        return ODMExportReply(logSize: size, xml: xml, nextAfter: p.nextAfter)
    }

    /// One page of the SDTM IE domain (`SDTMIE`), with the policies published up to the size exported.
    func exportSDTMIE(through: Int64?, site: String?, after: Int64, limit: Int) throws -> SDTMIEReply {
        let store = try requireStore()
        let size = try interopSize(through, limit: limit)
        let trial = try store.event(seq: 1).flatMap { try? TrialInfo(payloadOf: $0) }
        // A publication the decoder refuses (a forged log's) has no criteria to read: its decisions give no records.
        let policies = try store.events(types: [.policyPublished]).filter { $0.seq <= size }.compactMap { try? PublishedPolicy(payloadOf: $0) }
        let p = try interopPage(size: size, site: site, after: after, limit: limit)
        let rows = SDTMIE.rows(p.page, trialID: trial?.trialID ?? "", policies: policies)
        return SDTMIEReply(logSize: size, logTime: try store.event(seq: size)!.timestamp.description, records: rows, nextAfter: p.nextAfter)
    }
}
