import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// One page of events as stored: `from` … `through` (default: the head), at most `limit`. `next_from` is where
    /// the next page starts, null on the last: a reply, and the server's memory for it, stays bounded by the page.
    func export(from: Int64, through: Int64?, limit: Int) throws -> ExportReply {
        let store = try requireStore()
        let page = try logPage(from: from, through: through, limit: limit)
        var lines: [JSONValue] = []
        var last: StoredRow?
        var altered: StoredRow?
        // Exported as stored, even bytes that no longer hash to their hash (an auditor wants to see them), but said.
        try store.forEachRow(from: from, through: page.last) { row in
            if altered == nil, !row.bodyMatchesHash { altered = row }
            lines.append(try row.eventAsStored().json)
            last = row
        }
        var result = ExportReply(events: lines, nextFrom: page.next)
        if let altered {
            result.logWarning = altered.alteredMessage
        } else if let last {
            result.logWarning = try logWarning(through: last.seq, hash: last.hash)
        }
        return result
    }

    /// The last seq of the page of the log from `from`, at most `limit` events up to `through` (default: the head),
    /// and where the next page starts (nil after the last). A page from beyond the end is empty and the last.
    private func logPage(from: Int64, through: Int64?, limit: Int) throws -> (last: Int64, next: Int64?) {
        let end = min(through ?? .max, try requireStore().head().size)
        // Compared before adding, so a `from` near Int64.max cannot overflow.
        let last = from > end ? end : min(end, from + Int64(limit) - 1)
        return (last, last < end ? last + 1 : nil)
    }

    /// One page of the audit trail as CSV (with its header): the events from `from` on, at most `limit`, of one
    /// candidate or of the whole log. `next_from` is where the next page starts, null on the last. Cells a spreadsheet
    /// would run as formulas are neutralised (`SpreadsheetCell`).
    func auditTrail(candidate: String?, from: Int64, limit: Int) throws -> AuditTrailReply {
        let store = try requireStore()
        var events: [Event]
        var nextFrom: Int64?
        var sites = CandidateSites()
        if let candidate {
            events = try store.events(candidate: candidate)
            for e in events { sites.add(e) }
            events.removeAll { $0.seq < from }
            if events.count > limit {
                nextFrom = events[limit].seq
                events.removeLast(events.count - limit)
            }
        } else {
            let page = try logPage(from: from, through: nil, limit: limit)
            events = try store.events(from: from, through: page.last)
            nextFrom = page.next
            // A candidate registered on this page has its site moves on it too (they come later); the others' are read
            // from the registration_seq index: their registration and corrections only.
            let registeredHere = Set(events.lazy.filter { $0.type == .candidateRegistered }.compactMap(\.candidate))
            for e in events where e.candidate.map(registeredHere.contains) == true { sites.add(e) }
            for c in Set(events.compactMap(\.candidate)).subtracting(registeredHere).sorted() {
                for e in try store.events(candidate: c, types: [.candidateRegistered, .entryCorrected]) { sites.add(e) }
            }
        }
        let rows = ScreeningReport.auditTrail(events, sites: sites).map { $0.map(SpreadsheetCell.neutralised) }
        return AuditTrailReply(csv: ScreeningReport.csv(rows), nextFrom: nextFrom)
    }
}
