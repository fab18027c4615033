import TrialGateCore
import TrialGateService

/// Text renderings of command results for people at a terminal.
enum Render {
    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    static func seqs(_ v: [Int64]) -> String { v.map(String.init).joined(separator: ",") }

    /// A JSON value as it reads in one line (text and numbers as themselves in canonical JSON).
    static func value(_ v: JSONValue?) -> String { CanonicalJSON.string(v ?? .null) }

    static func decision(_ result: DecisionReply) -> String {
        let d = result.decision
        var lines = ["\(d.candidate) → \(d.outcome)   (event \(result.seq), policy \(d.policy.id) \(d.policy.version))"]
        for c in d.criteria {
            let ev = seqs(c.evidence)
            lines.append("  \(pad(c.result, 17)) \(pad(c.id, 26)) \(c.reason)\(ev.isEmpty ? "" : "  [events \(ev)]")")
        }
        lines.append("  decided \(d.decidedAt) by \(d.decidedBy); signed with key \(d.keyID) on log size \(d.log.size)")
        lines.append("  signature \(result.signature)")
        return lines.joined(separator: "\n")
    }

    static func candidate(_ r: CandidateReply) -> String {
        var lines = ["Candidate \(r.candidate) at \(r.site): \(r.status)"]
        if let seq = r.asOf.seq { lines[0] += "  (as of event \(seq))" }
        if let t = r.asOf.time { lines[0] += "  (as of \(t))" }
        if let w = r.withdrawal {
            // The CONSORT category (none for a withdrawal recorded before categories existed) and the reason beside it.
            let category = w.category.map { WithdrawalCategory(rawValue: $0)?.label ?? $0 } ?? "category not recorded"
            lines.append("Withdrawn at event \(w.seq) by \(w.actor): \(category)" + (w.reason.map { " — \($0)" } ?? ""))
        }
        if let d = r.decision { lines += decisionStanding(d) }
        let queries = r.queries.filter { $0.status != "closed" }
        if !queries.isEmpty {
            lines.append("Open queries:")
            for q in queries { lines.append("  #\(q.seq) \(q.status) \(q.text)") }
        }
        lines.append("History:")
        for h in r.history { lines += history(h) }
        lines.append("Current facts:")
        for name in r.facts.keys.sorted() {
            let f = r.facts[name]!
            let on = f.observedOn.map { " observed \($0)" } ?? ""
            let shown = value(f.value) + (f.unit.map { " \($0)" } ?? "")
            lines.append("  \(pad(name, 34)) \(pad(shown, 24)) [events \(seqs(f.evidence))]\(on)")
        }
        if !r.superseded.isEmpty {
            lines.append("Superseded:")
            for s in r.superseded {
                let shown = value(s.value) + (s.unit.map { " \($0)" } ?? "")
                lines.append("  \(pad(s.fact, 34)) \(pad(shown, 24)) [event \(s.seq)] \(s.why)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func decisionStanding(_ d: DecisionStanding) -> [String] {
        var lines = ["Decision \(d.decisionSeq): \(d.proposed) under \(d.policy), \(d.standing)"]
        for c in d.staleCauses { lines.append("  stale: event \(c.seq) \(c.detail) — decide again, then sign off") }
        if let s = d.signoff {
            lines.append("  signed off (event \(s.seq)) \(s.signedAt): \(s.meaningText ?? "")\(s.reason.map { " Reason: \($0)" } ?? "")")
        } else {
            lines.append("  not signed off by an investigator")
        }
        if let confirmed = d.confirmed { lines.append("  confirmed: \(confirmed)") }
        return lines
    }

    private static func history(_ h: HistoryEntry) -> [String] {
        var line = "  #\(h.seq) \(h.timestamp) \(h.actor) \(h.type)"
        if let outcome = h.outcome?.stringValue { line += " → \(outcome)" }
        if let p = h.payload, case .object = p { line += " " + CanonicalJSON.string(p) }
        var lines = [line]
        for k in h.corrections ?? [] {
            lines.append("      corrected by #\(k.seq) \(k.timestamp) \(k.actor): \(k.field) \(value(k.oldValue)) → \(value(k.newValue)) — \(k.reason)")
        }
        return lines
    }

    /// A stored member as text: a string as it is, nothing for null, anything else (a forged log's) as JSON.
    static func shown(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .null: ""
        default: CanonicalJSON.string(value)
        }
    }

    static func candidateList(_ r: CandidatesReply) -> String {
        var lines = ["\(pad("candidate", 14)) \(pad("site", 9)) \(pad("status", 13)) \(pad("confirmed", 11)) \(pad("registered", 11)) decision"]
        for c in r.candidates {
            lines.append("\(pad(c.candidate, 14)) \(pad(c.site, 9)) \(pad(c.status, 13)) \(pad(c.confirmed ?? "-", 11)) \(pad(String(c.registeredSeq), 11)) \(c.decisionSeq.map(String.init) ?? "-")")
        }
        lines.append("\(r.candidates.count) candidate(s)")
        if let next = r.nextAfter { lines.append("more follow: --after \(next)") }
        return lines.joined(separator: "\n")
    }

    static func decisionList(_ r: DecisionsReply) -> String {
        var lines = ["\(pad("seq", 6)) \(pad("candidate", 12)) \(pad("site", 9)) \(pad("outcome", 13)) \(pad("standing", 11)) \(pad("decided at", 25)) failed / unknown"]
        for d in r.decisions {
            // `stale`, `superseded`, or `current` / `signed` (current and signed off by an investigator).
            let standing = d.standing == "current" && d.lifecycle?.signoff != nil ? "signed" : d.standing
            let why = (d.failed.map { "✗ \(shown($0))" } + d.unknown.map { "? \(shown($0))" }
                       + d.needsAttestation.map { "? \(shown($0)) (attestation)" }).joined(separator: " ")
            lines.append("\(pad(String(d.seq), 6)) \(pad(d.candidate ?? "", 12)) \(pad(shown(d.site), 9)) \(pad(shown(d.outcome), 13)) \(pad(standing, 11)) \(pad(shown(d.decidedAt), 25)) \(why)")
        }
        lines.append("\(r.count) decision(s)")
        if let next = r.nextAfter { lines.append("more follow: --after \(next)") }
        return lines.joined(separator: "\n")
    }
}
