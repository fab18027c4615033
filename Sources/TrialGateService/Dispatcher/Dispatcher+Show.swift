import TrialGateCore
import TrialGateStore

extension Dispatcher {
    func show(candidate: String, asOfSeq: Int64?, asOfTime: UTCTimestamp?) throws -> CandidateReply {
        if asOfSeq == nil && asOfTime == nil { return try currentShown(candidate: candidate).view }
        var events = try candidateEvents(candidate)
        if let asOfSeq { events = events.filter { $0.seq <= asOfSeq } }
        if let asOfTime { events = events.filter { $0.timestamp <= asOfTime } }
        guard !events.isEmpty else {
            throw TrialGateError(.unknownCandidate, "candidate \"\(candidate)\" was not registered yet at that point")
        }
        let policies = try publishedPolicies().filter { $0.seq <= min(asOfSeq ?? .max, events.last!.seq) && $0.publishedAt <= (asOfTime ?? $0.publishedAt) }
        var view = CandidateView.reply(try foldCandidate(candidate, events), events: events, policies: policies, asOfSeq: asOfSeq, asOfTime: asOfTime)
        view.logWarning = try logWarning(through: events.last!.seq, hash: events.last!.hash)
        return view
    }

    /// Why what a reader is about to show, up to event `seq` (whose hash is `hash`, when known), is not vouched for by
    /// a valid signed checkpoint, or nil. Costs one comparison while `seq` is older than the head known to be covered,
    /// or is that head with its hash; otherwise the head is checked (a head rewritten in place keeps its seq).
    func logWarning(through seq: Int64, hash: String? = nil) throws -> String? {
        let covered = coverage.head
        if seq < covered.size || (seq == covered.size && hash == covered.hash) { return nil }
        return try headWarning()
    }

    /// The candidate's view now: the one shown here last while it is current, else built from its events and kept.
    func currentShown(candidate: String) throws -> ShownCandidate {
        let shown = try currentShownUnchecked(candidate: candidate)
        guard let warning = try logWarning(through: shown.seq, hash: shown.hash) else { return shown }
        // Not kept: the warning is about the log now, not part of the candidate's view.
        var view = shown.view
        view.logWarning = warning
        return ShownCandidate(registration: shown.registration, seq: shown.seq, hash: shown.hash, site: shown.site, policySeq: shown.policySeq, view: view,
                              encoded: CanonicalJSON.encode(view.json))
    }

    private func currentShownUnchecked(candidate: String) throws -> ShownCandidate {
        if let shown = try currentView(of: candidate, markUsed: true) { return shown }
        let policies = try publishedPolicies()
        let events = try candidateEvents(candidate)
        let c = try foldCandidate(candidate, events)
        let view = CandidateView.reply(c, events: events, policies: policies, asOfSeq: nil, asOfTime: nil)
        let newest = events.last!
        let shown = ShownCandidate(registration: c.registeredSeq, seq: newest.seq, hash: newest.hash, site: c.site,
                                   policySeq: policies.last?.seq ?? 0, view: view,
                                   encoded: CanonicalJSON.encode(view.json))
        candidateViews.put(shown, for: candidate)
        // Built from the events just read, so current for the rest of this command.
        viewChecks?[candidate] = shown
        return shown
    }

    /// Every policy published, without its text (a view names policies; it does not evaluate them).
    /// Kept while no newer policy is published (policy texts are long, and rarely change).
    func publishedPolicies() throws -> [PublishedPolicy] {
        let store = try requireStore()
        let newest = try store.newestSeq(types: [.policyPublished])
        if let cached = policyHeaders, cached.last?.seq ?? 0 == newest { return cached }
        let policies = try store.events(types: [.policyPublished]).map { e in
            if let p = try? PublishedPolicy(payloadOf: e) { return p.withoutText }
            // A publication the decoder refuses (a forged log's) is named by what it holds, as before: views do not refuse a log.
            return PublishedPolicy(seq: e.seq, publishedAt: e.timestamp, id: e.payload["policy_id"]?.stringValue ?? "",
                                   version: e.payload["version"]?.stringValue ?? "", sha256: e.payload["sha256"]?.stringValue ?? "", text: "")
        }
        policyHeaders = policies
        return policies
    }

    /// Every event about a registered candidate, in order.
    func candidateEvents(_ candidate: String) throws -> [Event] {
        let events = try requireStore().events(candidate: candidate)
        guard !events.isEmpty else { throw TrialGateError(.unknownCandidate, "no candidate \"\(candidate)\" is registered") }
        return events
    }

    /// The candidate folded from `events`, its own events up to some point.
    func foldCandidate(_ candidate: String, _ events: [Event]) throws -> CandidateState {
        let state = try LogState(partial: events, head: (events.last!.seq, events.last!.hash))
        guard let c = state.candidates[candidate] else { throw TrialGateError(.internal, "candidate fold failed") }
        return c
    }

    /// A registered candidate folded from all its events (`unknown_candidate` if there is none).
    func foldCandidate(_ candidate: String) throws -> CandidateState { try foldCandidate(candidate, candidateEvents(candidate)) }
}
