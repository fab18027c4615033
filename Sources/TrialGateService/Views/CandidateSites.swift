import TrialGateCore

/// Where each candidate was screened over time, for the audit trail's `site` column: the site its registration names,
/// then each correction of that site (a move), by event seq.
struct CandidateSites {
    private var registrations: [String: Int64] = [:]
    private var history: [String: [(seq: Int64, site: String)]] = [:]

    /// Whether the registration of `candidate` has been added.
    func knows(_ candidate: String) -> Bool { registrations[candidate] != nil }

    /// Takes in a registration or a correction of a registration's site; any other event is left out. Events are
    /// added in log order.
    mutating func add(_ e: Event) {
        guard let candidate = e.candidate else { return }
        switch e.type {
        case .candidateRegistered:
            registrations[candidate] = e.seq
            history[candidate] = [(e.seq, Registration.site(e.payload))]
        case .entryCorrected:
            // As `Registration.corrected` applies it: a null new value removes the site.
            guard let c = EntryCorrection(e), c.field == "site", c.corrects == registrations[candidate] else { return }
            history[candidate, default: []].append((e.seq, c.newValue.stringValue ?? ""))
        default:
            return
        }
    }

    /// The site `candidate` was at once event `seq` was appended (a move shows on its own row as the new site); empty
    /// for an event of no candidate or of one whose registration was not added.
    func site(of candidate: String?, at seq: Int64) -> String {
        guard let candidate, let changes = history[candidate] else { return "" }
        return changes.last { $0.seq <= seq }?.site ?? ""
    }
}
