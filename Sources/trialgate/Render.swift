import TrialGateCore

/// Text renderings of command results for people at a terminal.
enum Render {
    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    static func seqs(_ v: JSONValue?) -> String {
        (v?.arrayValue ?? []).compactMap { $0.intValue.map(String.init) }.joined(separator: ",")
    }

    static func decision(_ result: JSONValue) -> String {
        let d = result["decision"] ?? .null
        var lines = [
            "\(d["candidate"]?.stringValue ?? "") → \(d["outcome"]?.stringValue ?? "")   (event \(result["seq"]?.intValue ?? 0), policy \(d["policy"]?["id"]?.stringValue ?? "") \(d["policy"]?["version"]?.stringValue ?? ""))",
        ]
        for c in d["criteria"]?.arrayValue ?? [] {
            let ev = seqs(c["evidence"])
            lines.append("  \(pad(c["result"]?.stringValue ?? "", 17)) \(pad(c["id"]?.stringValue ?? "", 26)) \(c["reason"]?.stringValue ?? "")\(ev.isEmpty ? "" : "  [events \(ev)]")")
        }
        lines.append("  decided \(d["decided_at"]?.stringValue ?? "") by \(d["decided_by"]?.stringValue ?? ""); signed with key \(d["key_id"]?.stringValue ?? "") on log size \(d["log"]?["size"]?.intValue ?? 0)")
        lines.append("  signature \(result["signature"]?.stringValue ?? "")")
        return lines.joined(separator: "\n")
    }

    static func candidate(_ r: JSONValue) -> String {
        var lines = ["Candidate \(r["candidate"]?.stringValue ?? "") at \(r["site"]?.stringValue ?? ""): \(r["status"]?.stringValue ?? "")"]
        if let seq = r["as_of"]?["seq"]?.intValue { lines[0] += "  (as of event \(seq))" }
        if let t = r["as_of"]?["time"]?.stringValue { lines[0] += "  (as of \(t))" }
        if let d = r["decision"], d != .null {
            lines.append("Decision \(d["decision_seq"]?.intValue ?? 0): \(d["proposed"]?.stringValue ?? "") under \(d["policy"]?.stringValue ?? ""), \(d["standing"]?.stringValue ?? "")")
            for c in d["stale_causes"]?.arrayValue ?? [] {
                lines.append("  stale: event \(c["seq"]?.intValue ?? 0) \(c["detail"]?.stringValue ?? "") — decide again, then sign off")
            }
            if let s = d["signoff"], s != .null {
                lines.append("  signed off (event \(s["seq"]?.intValue ?? 0)) \(s["signed_at"]?.stringValue ?? ""): \(s["meaning_text"]?.stringValue ?? "")\(s["reason"]?.stringValue.map { " Reason: \($0)" } ?? "")")
            } else {
                lines.append("  not signed off by an investigator")
            }
            if let confirmed = d["confirmed"]?.stringValue { lines.append("  confirmed: \(confirmed)") }
        }
        let queries = (r["queries"]?.arrayValue ?? []).filter { $0["status"]?.stringValue != "closed" }
        if !queries.isEmpty {
            lines.append("Open queries:")
            for q in queries { lines.append("  #\(q["seq"]?.intValue ?? 0) \(q["status"]?.stringValue ?? "") \(q["text"]?.stringValue ?? "")") }
        }
        lines.append("History:")
        for h in r["history"]?.arrayValue ?? [] {
            var line = "  #\(h["seq"]?.intValue ?? 0) \(h["timestamp"]?.stringValue ?? "") \(h["actor"]?.stringValue ?? "") \(h["type"]?.stringValue ?? "")"
            if let outcome = h["outcome"]?.stringValue { line += " → \(outcome)" }
            if let p = h["payload"], case .object = p { line += " " + CanonicalJSON.string(p) }
            lines.append(line)
            for k in h["corrections"]?.arrayValue ?? [] {
                lines.append("      corrected by #\(k["seq"]?.intValue ?? 0) \(k["timestamp"]?.stringValue ?? "") \(k["actor"]?.stringValue ?? ""): \(k["field"]?.stringValue ?? "") \(CanonicalJSON.string(k["old_value"] ?? .null)) → \(CanonicalJSON.string(k["new_value"] ?? .null)) — \(k["reason"]?.stringValue ?? "")")
            }
        }
        lines.append("Current facts:")
        if let facts = r["facts"]?.objectValue {
            for name in facts.keys.sorted() {
                let f = facts[name]!
                let on = f["observed_on"]?.stringValue.map { " observed \($0)" } ?? ""
                let value = CanonicalJSON.string(f["value"] ?? .null) + (f["unit"]?.stringValue.map { " \($0)" } ?? "")
                lines.append("  \(pad(name, 34)) \(pad(value, 24)) [events \(seqs(f["evidence"]))]\(on)")
            }
        }
        let superseded = r["superseded"]?.arrayValue ?? []
        if !superseded.isEmpty {
            lines.append("Superseded:")
            for s in superseded {
                let value = CanonicalJSON.string(s["value"] ?? .null) + (s["unit"]?.stringValue.map { " \($0)" } ?? "")
                lines.append("  \(pad(s["fact"]?.stringValue ?? "", 34)) \(pad(value, 24)) [event \(s["seq"]?.intValue ?? 0)] \(s["why"]?.stringValue ?? "")")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func decisionList(_ r: JSONValue) -> String {
        var lines = ["\(pad("seq", 6)) \(pad("candidate", 12)) \(pad("site", 9)) \(pad("outcome", 13)) \(pad("standing", 11)) \(pad("decided at", 25)) failed / unknown"]
        for d in r["decisions"]?.arrayValue ?? [] {
            let failed = (d["failed"]?.arrayValue ?? []).compactMap(\.stringValue)
            let unknown = (d["unknown"]?.arrayValue ?? []).compactMap(\.stringValue)
            let unattested = (d["needs_attestation"]?.arrayValue ?? []).compactMap(\.stringValue)
            let why = (failed.map { "✗ \($0)" } + unknown.map { "? \($0)" } + unattested.map { "? \($0) (attestation)" }).joined(separator: " ")
            lines.append("\(pad(String(d["seq"]?.intValue ?? 0), 6)) \(pad(d["candidate"]?.stringValue ?? "", 12)) \(pad(d["site"]?.stringValue ?? "", 9)) \(pad(d["outcome"]?.stringValue ?? "", 13)) \(pad(standing(d), 11)) \(pad(d["decided_at"]?.stringValue ?? "", 25)) \(why)")
        }
        lines.append("\(r["count"]?.intValue ?? 0) decision(s)")
        /// `stale`, `superseded`, or `current` / `signed` (current and signed off by an investigator).
        func standing(_ d: JSONValue) -> String {
            let st = d["standing"]?.stringValue ?? ""
            if st == "current", let s = d["lifecycle"]?["signoff"], s != .null { return "signed" }
            return st
        }
        if let next = r["next_after"]?.intValue { lines.append("more follow: --after \(next)") }
        return lines.joined(separator: "\n")
    }
}
