import Foundation
import TrialGateCore

/// What a screening report counts over its candidates, one candidate at a time, and the tables it makes of the
/// counts (`ScreeningReport.build`).
struct ScreeningTally {
    var log: [JSONValue] = []
    var statusCounts: [String: Int] = [:]
    var byCriterion: [String: [String: Int]] = [:]
    var excludedBy: [String: Int] = [:]
    var sites: [String: [String: Int]] = [:]
    var daysToDecision: [Double] = []
    var scores: [String: [Int]] = [:]
    var corrections: [JSONValue] = []
    var correctionsByActor: [String: Int] = [:]
    var confirmedCounts: [String: Int] = [:]
    var awaitingSignOff = 0
    var queryAges: [String: [Double]] = [:]

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
            if let score = c.modelScore?.numberValue {
                scores[latest.outcome, default: Array(repeating: 0, count: 10)][min(9, Int(score * 10))] += 1
            }
        }
        log.append(Self.logRow(c, status: st, causes: causes, confirmed: confirmed, failed: failed, unknown: unknown, unattested: unattested))
        for k in c.corrections {
            correctionsByActor[k.actor, default: 0] += 1
            corrections.append([
                "seq": .number(Double(k.seq)), "timestamp": .string(k.timestamp.description), "actor": .string(k.actor),
                "candidate": .string(c.id), "corrects": .number(Double(k.corrects)), "record": .string(k.record.rawValue),
                "field": .string(k.field), "old_value": k.oldValue, "new_value": k.newValue, "reason": .string(k.reason),
            ])
        }
    }

    /// The screening-log row of candidate `c`.
    private static func logRow(_ c: ReportCandidate, status st: String, causes: [StaleCause], confirmed: String?, failed: [String],
                               unknown: [String], unattested: [String]) -> JSONValue {
        let latest = c.latest
        return [
            "candidate": .string(c.id), "site": .string(c.site),
            "registered_at": .string(c.registeredAt.description),
            "consent_date": c.consentDate,
            "status": .string(st), "decision_seq": .from(latest.map { Int($0.seq) }), "policy": .from(latest?.policy),
            "decided_at": .from(latest?.timestamp.description), "decisions": .number(Double(c.decisionCount)),
            "failed": .array(failed.map { .string($0) }), "unknown": .array(unknown.map { .string($0) }),
            "needs_attestation": .array(unattested.map { .string($0) }),
            "signature": .string(latest.map { $0.verdict == .valid ? "valid" : "invalid" } ?? "none"),
            "withdrawal_reason": .from(c.withdrawal?.reason),
            "proposed": .from(latest?.outcome), "standing": latest == nil ? .null : .string(causes.isEmpty ? "current" : "stale"),
            "stale_causes": .array(causes.map(\.json)), "confirmed": .from(confirmed),
            "signoff": c.signOff.map { o -> JSONValue in
                ["seq": .number(Double(o.seq)), "by": .string(o.signer), "printed_name": .string(o.printedName), "at": .string(o.timestamp.description),
                 "meaning": .string(o.meaning.rawValue), "reason": .from(o.reason)]
            } ?? .null,
            "open_queries": .number(Double(c.queries.filter { $0.status != .closed }.count)),
        ]
    }

    /// The CONSORT-style counts of the `assessed` candidates.
    func consort(assessed: Int) -> JSONValue {
        func count(_ s: String) -> JSONValue { .number(Double(statusCounts[s] ?? 0)) }
        return [
            "assessed": .number(Double(assessed)),
            "excluded": [
                "total": .number(Double((statusCounts["ineligible"] ?? 0) + (statusCounts["withdrawn"] ?? 0))),
                "not_meeting_criteria": count("ineligible"),
                "by_criterion": .object(excludedBy.mapValues { .number(Double($0)) }),
                "withdrawn": count("withdrawn"),
            ],
            "eligible": count("eligible"), "needs_review": count("needs_review"), "pending": count("pending"),
            // A decision proposes; an investigator confirms. Stale decisions are neither.
            "stale": count("stale"),
            "proposed": ["eligible": count("eligible"), "ineligible": count("ineligible"), "needs_review": count("needs_review")],
            "confirmed": ["eligible": .number(Double(confirmedCounts["eligible"] ?? 0)), "ineligible": .number(Double(confirmedCounts["ineligible"] ?? 0))],
            "awaiting_signoff": .number(Double(awaitingSignOff)),
        ]
    }

    /// Each criterion's results over the current decisions, by criterion id.
    func criteriaRows() -> [JSONValue] {
        byCriterion.keys.sorted().map { id in
            let r = byCriterion[id]!
            return ["id": .string(id), "pass": .number(Double(r["pass"] ?? 0)), "fail": .number(Double(r["fail"] ?? 0)),
                    "unknown": .number(Double(r["unknown"] ?? 0)), "needs_attestation": .number(Double(r["needs_attestation"] ?? 0)),
                    "skipped": .number(Double(r["skipped"] ?? 0))]
        }
    }

    /// Each site's counts, screen-failure rate and review queries, by site.
    func siteRows() -> [JSONValue] {
        sites.keys.sorted().map { site in
            let r = sites[site]!
            let decidedHere = (r["eligible"] ?? 0) + (r["ineligible"] ?? 0) + (r["needs_review"] ?? 0)
            return [
                "site": .string(site), "assessed": .number(Double(r["assessed"] ?? 0)), "eligible": .number(Double(r["eligible"] ?? 0)),
                "ineligible": .number(Double(r["ineligible"] ?? 0)), "needs_review": .number(Double(r["needs_review"] ?? 0)),
                "withdrawn": .number(Double(r["withdrawn"] ?? 0)), "pending": .number(Double(r["pending"] ?? 0)),
                "stale": .number(Double(r["stale"] ?? 0)),
                "confirmed_eligible": .number(Double(r["confirmed_eligible"] ?? 0)), "confirmed_ineligible": .number(Double(r["confirmed_ineligible"] ?? 0)),
                "screen_failure_rate": decidedHere == 0 ? .null : .number(Self.rounded(Double(r["ineligible"] ?? 0) / Double(decidedHere))),
                "queries": ["open": .number(Double(r["queries_open"] ?? 0)), "answered": .number(Double(r["queries_answered"] ?? 0)),
                            "closed": .number(Double(r["queries_closed"] ?? 0)),
                            "median_age_days_not_closed": queryAges[site].map { a in .number(a.sorted()[a.count / 2]) } ?? .null,
                            "max_age_days_not_closed": queryAges[site].map { .number($0.max()!) } ?? .null],
            ]
        }
    }

    /// The days from registration to the first decision: count, median, mean and longest.
    func timing() -> JSONValue {
        let sorted = daysToDecision.sorted()
        return sorted.isEmpty ? ["count": 0] : [
            "count": .number(Double(sorted.count)), "median_days": .number(Self.rounded(sorted[sorted.count / 2])),
            "mean_days": .number(Self.rounded(sorted.reduce(0, +) / Double(sorted.count))), "max_days": .number(Self.rounded(sorted.last!)),
        ]
    }

    private static func rounded(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }
}
