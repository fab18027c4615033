import Foundation
import TrialGateCore

/// What a screening report counts over its candidates, one candidate at a time, and the tables it makes of the
/// counts (`ScreeningReport.build`).
struct ScreeningTally {
    var log: [ScreeningLogRow] = []
    var statusCounts: [String: Int] = [:]
    var byCriterion: [String: [String: Int]] = [:]
    var excludedBy: [String: Int] = [:]
    var sites: [String: [String: Int]] = [:]
    var daysToDecision: [Double] = []
    var scores: [String: [Int]] = [:]
    var corrections: [ReportCorrectionItem] = []
    var correctionsByActor: [String: Int] = [:]
    var confirmedCounts: [String: Int] = [:]
    var awaitingSignOff = 0
    var queryAges: [String: [Double]] = [:]
    var flow = ReportFlow(assessed: 0, excluded: .init(total: 0, byCriterion: [:], failedMoreThanOne: 0, confirmed: 0, overriddenEligible: 0),
                          undecided: .init(total: 0, noDecision: 0, needsReview: 0, stale: 0),
                          withdrawnBeforeEligible: .init(total: 0, byCategory: [:]), eligible: 0,
                          withdrawnAfterEligible: .init(total: 0, byCategory: [:]), awaitingSignoff: 0, overriddenIneligible: 0, confirmedEligible: 0)

    /// Counts candidate `c` (its status, sign-off, queries, criteria, exclusions, time to decision and model score)
    /// and adds its screening-log row and its corrections.
    mutating func add(_ c: ReportCandidate, policies: [PublishedPolicy], agesAt now: UTCTimestamp?) {
        let st = c.status(policies)
        let causes = c.staleCauses(policies)
        let confirmed = c.confirmed(policies)
        statusCounts[st, default: 0] += 1
        sites[c.site, default: [:]][st, default: 0] += 1
        sites[c.site, default: [:]]["assessed", default: 0] += 1
        if let confirmed {
            confirmedCounts[confirmed, default: 0] += 1
            sites[c.site, default: [:]]["confirmed_\(confirmed)", default: 0] += 1
        } else if c.latest != nil, causes.isEmpty, c.withdrawal == nil {
            awaitingSignOff += 1
        }
        for q in c.queries {
            sites[c.site, default: [:]]["queries_\(q.status.rawValue)", default: 0] += 1
            if q.status != .closed, let now { queryAges[c.site, default: []].append(Dispatcher.days(from: q.openedAt, to: now)) }
        }
        let latest = c.latest
        let failed = (latest?.results.filter { $0.value == "fail" }.map(\.key) ?? []).sorted()
        let unknown = (latest?.results.filter { $0.value == "unknown" }.map(\.key) ?? []).sorted()
        let unattested = (latest?.results.filter { $0.value == "needs_attestation" }.map(\.key) ?? []).sorted()
        // Only a current decision counts as an outcome; a stale one is listed, not counted.
        if let latest, causes.isEmpty {
            for (id, result) in latest.results { byCriterion[id, default: [:]][result, default: 0] += 1 }
            if st == "ineligible" { for id in failed { excludedBy[id, default: 0] += 1 } }
            if let first = c.firstDecisionAt {
                daysToDecision.append(Double(first.millisecondsSinceEpoch - c.registeredAt.millisecondsSinceEpoch) / 86_400_000)
            }
            // Binned only within 0…1: a score outside it (a forged log's: the record schema refuses one) is left out,
            // never used as an index.
            if let score = c.modelScore?.numberValue, score >= 0, score <= 1 {
                scores[latest.outcome, default: Array(repeating: 0, count: 10)][min(9, Int(score * 10))] += 1
            }
        }
        addToFlow(Self.box(c, status: st, confirmed: confirmed, policies: policies), failed: failed, confirmed: confirmed)
        log.append(Self.logRow(c, status: st, causes: causes, confirmed: confirmed, failed: failed, unknown: unknown, unattested: unattested))
        for k in c.corrections {
            correctionsByActor[k.actor, default: 0] += 1
            corrections.append(ReportCorrectionItem(seq: k.seq, timestamp: k.timestamp.description, actor: k.actor, candidate: c.id,
                                                    corrects: k.corrects, record: k.record.rawValue, field: k.field, oldValue: k.oldValue,
                                                    newValue: k.newValue, reason: k.reason))
        }
    }

    /// What a withdrawal recorded before categories existed is counted under.
    static let notRecorded = "not_recorded"

    /// The terminal box of the flow diagram candidate `c` (of status `st`) lands in.
    static func box(_ c: ReportCandidate, status st: String, confirmed: String?, policies: [PublishedPolicy]) -> FlowBox {
        if let w = c.withdrawal {
            let code = w.category?.rawValue ?? notRecorded
            // After eligible only if the eligible decision was still current when the candidate left: nothing but the
            // withdrawal itself (or a later policy) stands between them.
            let wasCurrent = c.staleCauses(policies).allSatisfy { $0.seq >= w.seq }
            return c.latest?.outcome == "eligible" && wasCurrent ? .withdrawnAfterEligible(code) : .withdrawnBeforeEligible(code)
        }
        switch st {
        case "pending": return .noDecision
        case "stale": return .stale
        case "ineligible": return .excluded
        case "eligible": return confirmed == "eligible" ? .confirmedEligible : confirmed == "ineligible" ? .overriddenIneligible : .awaitingSignoff
        // needs_review, and an outcome a forged log made up: someone has to look at it.
        default: return .needsReview
        }
    }

    /// Counts candidate's `box` in the flow diagram.
    private mutating func addToFlow(_ box: FlowBox, failed: [String], confirmed: String?) {
        flow.assessed += 1
        switch box {
        case .excluded:
            flow.excluded.total += 1
            for id in failed { flow.excluded.byCriterion[id, default: 0] += 1 }
            if failed.count > 1 { flow.excluded.failedMoreThanOne += 1 }
            if confirmed == "ineligible" { flow.excluded.confirmed += 1 }
            if confirmed == "eligible" { flow.excluded.overriddenEligible += 1 }
        case .noDecision: flow.undecided.noDecision += 1; flow.undecided.total += 1
        case .needsReview: flow.undecided.needsReview += 1; flow.undecided.total += 1
        case .stale: flow.undecided.stale += 1; flow.undecided.total += 1
        case .withdrawnBeforeEligible(let code):
            flow.withdrawnBeforeEligible.total += 1
            flow.withdrawnBeforeEligible.byCategory[code, default: 0] += 1
        case .withdrawnAfterEligible(let code):
            flow.eligible += 1
            flow.withdrawnAfterEligible.total += 1
            flow.withdrawnAfterEligible.byCategory[code, default: 0] += 1
        case .awaitingSignoff: flow.eligible += 1; flow.awaitingSignoff += 1
        case .overriddenIneligible: flow.eligible += 1; flow.overriddenIneligible += 1
        case .confirmedEligible: flow.eligible += 1; flow.confirmedEligible += 1
        }
    }

    /// The screening-log row of candidate `c`.
    private static func logRow(_ c: ReportCandidate, status st: String, causes: [StaleCause], confirmed: String?, failed: [String],
                               unknown: [String], unattested: [String]) -> ScreeningLogRow {
        let latest = c.latest
        return ScreeningLogRow(
            candidate: c.id, site: c.site, registeredAt: c.registeredAt.description, consentDate: c.consentDate, status: st,
            decisionSeq: latest?.seq, policy: latest?.policy, decidedAt: latest?.timestamp.description, decisions: c.decisionCount,
            failed: failed, unknown: unknown, needsAttestation: unattested,
            signature: latest.map { $0.verdict == .valid ? "valid" : "invalid" } ?? "none",
            withdrawalCategory: c.withdrawal.map { $0.category?.rawValue ?? Self.notRecorded }, withdrawalReason: c.withdrawal?.reason,
            proposed: latest?.outcome, standing: latest == nil ? nil : causes.isEmpty ? "current" : "stale", staleCauses: causes, confirmed: confirmed,
            signoff: c.signOff.map { .init(seq: $0.seq, by: $0.signer, printedName: $0.printedName, at: $0.timestamp.description,
                                           meaning: $0.meaning.rawValue, reason: $0.reason) },
            openQueries: c.queries.filter { $0.status != .closed }.count)
    }

    /// The CONSORT-style counts of the `assessed` candidates.
    func consort(assessed: Int) -> ReportConsort {
        func count(_ s: String) -> Int { statusCounts[s] ?? 0 }
        return ReportConsort(
            assessed: assessed,
            excluded: .init(total: count("ineligible") + count("withdrawn"), notMeetingCriteria: count("ineligible"), byCriterion: excludedBy,
                            withdrawn: count("withdrawn")),
            eligible: count("eligible"), needsReview: count("needs_review"), pending: count("pending"),
            // A decision proposes; an investigator confirms. Stale decisions are neither.
            stale: count("stale"),
            proposed: .init(eligible: count("eligible"), ineligible: count("ineligible"), needsReview: count("needs_review")),
            confirmed: .init(eligible: confirmedCounts["eligible"] ?? 0, ineligible: confirmedCounts["ineligible"] ?? 0),
            awaitingSignoff: awaitingSignOff, flow: flow)
    }

    /// Each criterion's results over the current decisions, by criterion id.
    func criteriaRows() -> [ReportCriterionCounts] {
        byCriterion.keys.sorted().map { id in
            let r = byCriterion[id]!
            return ReportCriterionCounts(id: id, pass: r["pass"] ?? 0, fail: r["fail"] ?? 0, unknown: r["unknown"] ?? 0,
                                         needsAttestation: r["needs_attestation"] ?? 0, skipped: r["skipped"] ?? 0)
        }
    }

    /// Each site's counts, screen-failure rate and review queries, by site.
    func siteRows() -> [ReportSiteRow] {
        sites.keys.sorted().map { site in
            let r = sites[site]!
            let decidedHere = (r["eligible"] ?? 0) + (r["ineligible"] ?? 0) + (r["needs_review"] ?? 0)
            let ages = queryAges[site]
            return ReportSiteRow(
                site: site, assessed: r["assessed"] ?? 0, eligible: r["eligible"] ?? 0, ineligible: r["ineligible"] ?? 0,
                needsReview: r["needs_review"] ?? 0, withdrawn: r["withdrawn"] ?? 0, pending: r["pending"] ?? 0, stale: r["stale"] ?? 0,
                confirmedEligible: r["confirmed_eligible"] ?? 0, confirmedIneligible: r["confirmed_ineligible"] ?? 0,
                screenFailureRate: decidedHere == 0 ? nil : Self.rounded(Double(r["ineligible"] ?? 0) / Double(decidedHere)),
                queries: .init(open: r["queries_open"] ?? 0, answered: r["queries_answered"] ?? 0, closed: r["queries_closed"] ?? 0,
                               medianAgeDaysNotClosed: ages.map { $0.sorted()[$0.count / 2] }, maxAgeDaysNotClosed: ages.map { $0.max()! }))
        }
    }

    /// The days from registration to the first decision: count, median, mean and longest.
    func timing() -> ReportReply.Timing {
        let sorted = daysToDecision.sorted()
        guard !sorted.isEmpty else { return ReportReply.Timing(count: 0) }
        return ReportReply.Timing(count: sorted.count, medianDays: Self.rounded(sorted[sorted.count / 2]),
                                  meanDays: Self.rounded(sorted.reduce(0, +) / Double(sorted.count)), maxDays: Self.rounded(sorted.last!))
    }

    private static func rounded(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }
}
