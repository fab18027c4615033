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
    static func build(_ state: ReportState, filter: Filter, asOf: ReportReply.AsOf?, agesAt now: UTCTimestamp? = nil) -> ReportReply {
        var state = state
        state.checkSignatures(of: filter.includes)
        let candidates = state.candidates.values.filter(filter.includes).sorted { $0.id < $1.id }
        var tally = ScreeningTally()
        for c in candidates { tally.add(c, policies: state.policies, agesAt: now) }
        tally.corrections.sort { $0.seq < $1.seq }
        return ReportReply(
            asOf: asOf, trialID: state.trialID, logSize: state.size, logHead: state.headHash,
            filter: .init(site: filter.site, from: filter.from?.description, to: filter.to?.description),
            policies: policiesInForce(state.policies, filter: filter), consort: tally.consort(assessed: candidates.count),
            decided: candidates.filter { $0.latest != nil && $0.withdrawal == nil }.count, screeningLog: tally.log,
            criteria: tally.criteriaRows(), sites: tally.siteRows(), timeToDecision: tally.timing(),
            modelScoreHistogram: .init(bins: (0..<10).map { String(format: "%.1f-%.1f", Double($0) / 10, Double($0 + 1) / 10) }, byOutcome: tally.scores),
            corrections: .init(count: tally.corrections.count, byActor: tally.correctionsByActor, items: tally.corrections))
    }

    /// The policies in force at some time of the report's period (all of them without `from`/`to`): each from its
    /// publication until the next one.
    static func policiesInForce(_ policies: [PublishedPolicy], filter: Filter) -> [ReportReply.PolicyPeriod] {
        policies.indices.compactMap { i in
            let p = policies[i]
            let until = i + 1 < policies.count ? policies[i + 1].publishedAt : nil
            if let to = filter.to, p.publishedAt.date > to { return nil }
            if let from = filter.from, let until, until.date < from { return nil }
            return ReportReply.PolicyPeriod(id: p.id, version: p.version, sha256: p.sha256, seq: p.seq, inForceFrom: p.publishedAt.description,
                                            inForceUntil: until?.description)
        }
    }

    /// The audit trail as rows: who, what, when, old value, new value, reason — one row per field recorded or changed —
    /// then the candidate's site at that event (`sites`), the seq of the event a correction corrects, and the policy
    /// (`id@version`) a decision applied or a publication published. Payloads are read through their decoders; one a
    /// decoder refuses (a forged log's) is shown by what it holds, as stored: the trail lists the log as it is, and
    /// `verify` says what is wrong with it.
    static func auditTrail(_ events: [Event], sites: CandidateSites = CandidateSites()) -> [[String]] {
        var rows: [[String]] = [["seq", "timestamp_utc", "actor", "candidate", "action", "field", "old_value", "new_value", "reason",
                                 "site", "corrects_seq", "policy"]]
        for e in events {
            let base = [String(e.seq), e.timestamp.description, e.actor, e.candidate ?? "", e.type.rawValue]
            let context = [sites.site(of: e.candidate, at: e.seq), correctedSeq(e), policyOf(e)]
            rows += auditRows(e).map { base + $0 + context }
        }
        return rows
    }

    /// The seq a correction corrects, as stored ("" for any other event).
    private static func correctedSeq(_ e: Event) -> String {
        guard e.type == .entryCorrected else { return "" }
        return EntryCorrection(e).map { String($0.corrects) } ?? text(e.payload["corrects"])
    }

    /// The policy a decision applied or a publication published, `id@version` ("" for any other event).
    private static func policyOf(_ e: Event) -> String {
        switch e.type {
        case .decisionIssued: DecisionSummary(storedIn: e)?.policyName ?? ""
        case .policyPublished:
            (try? PublishedPolicy(payloadOf: e)).map { Decision.policyName(id: $0.id, version: $0.version) }
                ?? Decision.policyName(id: text(e.payload["policy_id"]), version: text(e.payload["version"]))
        default: ""
        }
    }

    /// How an audit-trail cell shows a value: a string as it is, nothing for null or none, any other value as JSON.
    private static func text(_ v: JSONValue?) -> String {
        guard let v, v != .null else { return "" }
        if case .string(let s) = v { return s }
        return CanonicalJSON.string(v)
    }

    /// The field, old value, new value and reason of each row of `e`.
    private static func auditRows(_ e: Event) -> [[String]] {
        switch e.type {
        case .entryCorrected:
            guard let c = EntryCorrection(e) else {
                return [[text(e.payload["field"]), text(e.payload["old_value"]), text(e.payload["new_value"]), text(e.payload["reason"])]]
            }
            return [[c.field, text(c.oldValue), text(c.newValue), c.reason]]
        case .candidateWithdrawn:
            return [["status", "", "withdrawn", (try? Withdrawal(payloadOf: e))?.reason ?? text(e.payload["reason"])]]
        case .decisionIssued:
            let d = DecisionSummary(storedIn: e)
            return [["outcome", "", text(d?.storedOutcome), ""], ["policy", "", d?.policyName ?? Decision.policyName(id: "", version: ""), ""]]
        case .decisionSigned:
            return signOffRows((try? SignOff(payloadOf: e))?.statement ?? e.payload["statement"] ?? .null)
        case .policyPublished:
            guard let p = try? PublishedPolicy(payloadOf: e) else {
                return [["policy", "", Decision.policyName(id: text(e.payload["policy_id"]), version: text(e.payload["version"])), ""]]
            }
            return [["policy", "", Decision.policyName(id: p.id, version: p.version), ""]]
        case .trialInitialised:
            return [["trial", "", (try? TrialInfo(payloadOf: e))?.trialID ?? text(e.payload["trial_id"]), ""]]
        default:
            // A record's fields (or a user event's), each a row: their schema describes them, not a decoder.
            return (e.payload.objectValue ?? [:]).sorted(by: { $0.key < $1.key }).map { [$0.key, "", text($0.value), ""] }
        }
    }

    /// A sign-off's rows, from its statement as signed (members shown as they were signed).
    private static func signOffRows(_ st: JSONValue) -> [[String]] {
        let signer = "\(text(st["signer"]?["printed_name"])) (\(text(st["signer"]?["user"])), key \(text(st["signer"]?["key_id"])))"
        return [["signoff", "", text(st["meaning"]), text(st["reason"])],
                ["decision", "", "\(text(st["decision"]?["seq"])) sha256 \(text(st["decision"]?["sha256"]))", ""],
                ["signed_by", "", signer, ""],
                ["signed_at", "", text(st["signed_at"]), ""]]
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
