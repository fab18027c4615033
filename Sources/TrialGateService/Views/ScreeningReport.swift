import Foundation
import TrialGateAudit
import TrialGateCore

/// What sponsors and regulators look at, computed from the folded log alone: the screening log, CONSORT-style
/// counts, per-criterion and per-site statistics, time to decision, model scores by outcome, corrections.
///
/// Everything is sorted before it is written, so the same log gives byte-identical output.
enum ScreeningReport {
    struct Filter {
        var site: String?
        var from: CivilDate?
        var to: CivilDate?

        func includes(site: String, registeredAt: UTCTimestamp) -> Bool {
            if let s = self.site, site != s { return false }
            if let from, registeredAt.date < from { return false }
            if let to, registeredAt.date > to { return false }
            return true
        }

        func includes(_ c: CandidateState) -> Bool { includes(site: c.site, registeredAt: c.records[0].timestamp) }
        func includes(_ c: ReportCandidate) -> Bool { includes(site: c.site, registeredAt: c.registeredAt) }
    }


    /// The report of `state`; the signatures of the decisions it shows are checked first (on every core).
    /// - Parameter agesAt: the time review queries' ages are counted to (the log head's time, so that the same log
    ///   gives the same report).
    static func build(_ state: ReportState, filter: Filter, asOf: JSONValue, agesAt now: UTCTimestamp? = nil) -> JSONValue {
        var state = state
        state.checkSignatures(of: filter.includes)
        let candidates = state.candidates.values.filter(filter.includes).sorted { $0.id < $1.id }
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
        for c in candidates {
            let st = c.status(state.policies)
            let causes = c.staleCauses(state.policies)
            let confirmed = c.confirmed(state.policies)
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
            log.append([
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
            ])
            for k in c.corrections {
                correctionsByActor[k.actor, default: 0] += 1
                corrections.append([
                    "seq": .number(Double(k.seq)), "timestamp": .string(k.timestamp.description), "actor": .string(k.actor),
                    "candidate": .string(c.id), "corrects": .number(Double(k.corrects)), "record": .string(k.record.rawValue),
                    "field": .string(k.field), "old_value": k.oldValue, "new_value": k.newValue, "reason": .string(k.reason),
                ])
            }
        }
        corrections.sort { ($0["seq"]?.intValue ?? 0) < ($1["seq"]?.intValue ?? 0) }
        func count(_ s: String) -> JSONValue { .number(Double(statusCounts[s] ?? 0)) }
        let decided = candidates.filter { $0.latest != nil && $0.withdrawal == nil }.count
        let consort: JSONValue = [
            "assessed": .number(Double(candidates.count)),
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
        let criteria: [JSONValue] = byCriterion.keys.sorted().map { id in
            let r = byCriterion[id]!
            return ["id": .string(id), "pass": .number(Double(r["pass"] ?? 0)), "fail": .number(Double(r["fail"] ?? 0)),
                    "unknown": .number(Double(r["unknown"] ?? 0)), "needs_attestation": .number(Double(r["needs_attestation"] ?? 0)),
                    "skipped": .number(Double(r["skipped"] ?? 0))]
        }
        let siteRows: [JSONValue] = sites.keys.sorted().map { site in
            let r = sites[site]!
            let decidedHere = (r["eligible"] ?? 0) + (r["ineligible"] ?? 0) + (r["needs_review"] ?? 0)
            return [
                "site": .string(site), "assessed": .number(Double(r["assessed"] ?? 0)), "eligible": .number(Double(r["eligible"] ?? 0)),
                "ineligible": .number(Double(r["ineligible"] ?? 0)), "needs_review": .number(Double(r["needs_review"] ?? 0)),
                "withdrawn": .number(Double(r["withdrawn"] ?? 0)), "pending": .number(Double(r["pending"] ?? 0)),
                "stale": .number(Double(r["stale"] ?? 0)),
                "confirmed_eligible": .number(Double(r["confirmed_eligible"] ?? 0)), "confirmed_ineligible": .number(Double(r["confirmed_ineligible"] ?? 0)),
                "screen_failure_rate": decidedHere == 0 ? .null : .number(rounded(Double(r["ineligible"] ?? 0) / Double(decidedHere))),
                "queries": ["open": .number(Double(r["queries_open"] ?? 0)), "answered": .number(Double(r["queries_answered"] ?? 0)),
                            "closed": .number(Double(r["queries_closed"] ?? 0)),
                            "median_age_days_not_closed": queryAges[site].map { a in .number(a.sorted()[a.count / 2]) } ?? .null,
                            "max_age_days_not_closed": queryAges[site].map { .number($0.max()!) } ?? .null],
            ]
        }
        let sorted = daysToDecision.sorted()
        let timing: JSONValue = sorted.isEmpty ? ["count": 0] : [
            "count": .number(Double(sorted.count)), "median_days": .number(rounded(sorted[sorted.count / 2])),
            "mean_days": .number(rounded(sorted.reduce(0, +) / Double(sorted.count))), "max_days": .number(rounded(sorted.last!)),
        ]
        return [
            "as_of": asOf, "trial_id": .from(state.trialID), "log_size": .number(Double(state.size)), "log_head": .string(state.headHash),
            "filter": ["site": .from(filter.site), "from": .from(filter.from?.description), "to": .from(filter.to?.description)],
            "policies": .array(policiesInForce(state.policies, filter: filter)),
            "consort": consort, "decided": .number(Double(decided)), "screening_log": .array(log), "criteria": .array(criteria),
            "sites": .array(siteRows), "time_to_decision": timing,
            "model_score_histogram": ["bins": .array((0..<10).map { .string(String(format: "%.1f-%.1f", Double($0) / 10, Double($0 + 1) / 10)) }),
                                      "by_outcome": .object(scores.mapValues { .array($0.map { .number(Double($0)) }) })],
            "corrections": ["count": .number(Double(corrections.count)), "by_actor": .object(correctionsByActor.mapValues { .number(Double($0)) }),
                            "items": .array(corrections)],
        ]
    }

    private static func rounded(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }

    /// The policies in force at some time of the report's period (all of them without `from`/`to`): each from its
    /// publication until the next one.
    static func policiesInForce(_ policies: [PublishedPolicy], filter: Filter) -> [JSONValue] {
        policies.indices.compactMap { i in
            let p = policies[i]
            let until = i + 1 < policies.count ? policies[i + 1].publishedAt : nil
            if let to = filter.to, p.publishedAt.date > to { return nil }
            if let from = filter.from, let until, until.date < from { return nil }
            return ["id": .string(p.id), "version": .string(p.version), "sha256": .string(p.sha256), "seq": .number(Double(p.seq)),
                    "in_force_from": .string(p.publishedAt.description), "in_force_until": .from(until?.description)]
        }
    }

    /// FHIR R4 `ResearchSubject` resources, one per candidate (status from the research-subject-status value set).
    static func fhir(_ state: LogState, filter: Filter) -> [JSONValue] {
        let trial = state.trial?.trialID ?? "unknown"
        let system = "urn:trialgate:\(state.trial?.logOrigin ?? trial):candidate"
        return state.candidates.values.filter(filter.includes).sorted { $0.id < $1.id }.map { c in
            // Eligible or ineligible only once an investigator confirmed a current decision; a proposal, a stale
            // decision or one that needs review is still screening.
            let causes = c.staleCauses(policies: state.policies)
            let confirmed = ScreeningStatus.confirmed(withdrawn: c.isWithdrawn, stale: !causes.isEmpty, signOff: c.latestSignOff)
            let fhirStatus: String
            if c.isWithdrawn { fhirStatus = "withdrawn" } else if let confirmed { fhirStatus = confirmed } else {
                fhirStatus = c.decisions.isEmpty ? "candidate" : "screening"
            }
            let id = String(c.id.map { $0 == "_" ? "-" : $0 })
            var period: [String: JSONValue] = ["start": .string(c.records[0].timestamp.description)]
            if let w = c.withdrawal { period["end"] = .string(w.timestamp.description) }
            // The policy of the latest decision, id@version, so a status always says which rules gave it.
            var resource: [String: JSONValue] = [
                "resourceType": "ResearchSubject", "id": .string(id),
                "identifier": [["system": .string(system), "value": .string(c.id)]],
                "status": .string(fhirStatus), "period": .object(period),
                "study": ["reference": .string("ResearchStudy/\(trial)")],
                "individual": ["identifier": ["system": .string(system), "value": .string(c.id)], "display": "pseudonymous screening candidate"],
            ]
            // FHIR arrays are never empty: a candidate without a decision has no extension.
            if let d = c.decisions.last {
                resource["extension"] = [
                    ["url": "urn:trialgate:fhir:screening-policy", "valueString": .string(d.policyName)],
                    ["url": "urn:trialgate:fhir:proposed-outcome", "valueCode": .string(d.outcome)],
                    ["url": "urn:trialgate:fhir:decision-standing", "valueCode": .string(causes.isEmpty ? "current" : "stale")],
                ]
            }
            return .object(resource)
        }
    }

    /// The audit trail as rows: who, what, when, old value, new value, reason — one row per field recorded or changed.
    static func auditTrail(_ events: [Event]) -> [[String]] {
        func text(_ v: JSONValue?) -> String {
            guard let v, v != .null else { return "" }
            if case .string(let s) = v { return s }
            return CanonicalJSON.string(v)
        }
        var rows: [[String]] = [["seq", "timestamp_utc", "actor", "candidate", "action", "field", "old_value", "new_value", "reason"]]
        for e in events {
            let base = [String(e.seq), e.timestamp.description, e.actor, e.candidate ?? "", e.type.rawValue]
            switch e.type {
            case .entryCorrected:
                rows.append(base + [text(e.payload["field"]), text(e.payload["old_value"]), text(e.payload["new_value"]), text(e.payload["reason"])])
            case .candidateWithdrawn:
                rows.append(base + ["status", "", "withdrawn", text(e.payload["reason"])])
            case .decisionIssued:
                rows.append(base + ["outcome", "", text(e.payload["decision"]?["outcome"]), ""])
                rows.append(base + ["policy", "", Decision.policyName(of: e.payload["decision"] ?? .null), ""])
            case .decisionSigned:
                let st = e.payload["statement"] ?? .null
                let signer = "\(text(st["signer"]?["printed_name"])) (\(text(st["signer"]?["user"])), key \(text(st["signer"]?["key_id"])))"
                rows.append(base + ["signoff", "", text(st["meaning"]), text(st["reason"])])
                rows.append(base + ["decision", "", "\(text(st["decision"]?["seq"])) sha256 \(text(st["decision"]?["sha256"]))", ""])
                rows.append(base + ["signed_by", "", signer, ""])
                rows.append(base + ["signed_at", "", text(st["signed_at"]), ""])
            case .policyPublished:
                rows.append(base + ["policy", "", Decision.policyName(id: text(e.payload["policy_id"]), version: text(e.payload["version"])), ""])
            case .trialInitialised:
                rows.append(base + ["trial", "", text(e.payload["trial_id"]), ""])
            default:
                for (k, v) in (e.payload.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) { rows.append(base + [k, "", text(v), ""]) }
            }
        }
        return rows
    }

    /// RFC 4180 CSV.
    static func csv(_ rows: [[String]]) -> String {
        rows.map { row in
            row.map { field in
                field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                    ? "\"" + field.replacing("\"", with: "\"\"") + "\"" : field
            }.joined(separator: ",")
        }.joined(separator: "\r\n") + "\r\n"
    }
}
