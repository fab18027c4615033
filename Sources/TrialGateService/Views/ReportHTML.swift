import Foundation
import TrialGateCore

/// The screening report as one self-contained HTML page: inline CSS and SVG, no scripts, no external assets.
enum ReportHTML {
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A number as the report's JSON writes it (an integral one without a fraction); "–" for none.
    static func n(_ d: Double?) -> String {
        guard let d else { return "–" }
        let v = JSONValue.number(d)
        return v.intValue.map(String.init) ?? CanonicalJSON.string(v)
    }

    static func n(_ i: Int) -> String { String(i) }
    static func n(_ i: Int64?) -> String { i.map(String.init) ?? "–" }
    static func n(_ s: String?) -> String { s ?? "–" }

    /// The page of `r`, the typed report.
    static func render(_ r: ReportReply) -> String {
        let c = r.consort
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>Screening report \(escape(n(r.trialID)))</title>
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733;padding:0 1rem}
        h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe3;padding-bottom:.2rem}
        .meta{color:#5a6878;font-size:.85rem}table{border-collapse:collapse;font-size:.85rem;margin-top:.5rem}
        th,td{border-bottom:1px solid #e3e8ee;padding:.25rem .6rem;text-align:left}th{background:#f3f6f9}
        td.num{text-align:right;font-variant-numeric:tabular-nums}.eligible{color:#1b7a3e}.ineligible{color:#b3261e}
        .needs_review,.stale{color:#9a6700}.withdrawn,.pending{color:#5a6878}.row{display:flex;gap:2rem;flex-wrap:wrap}
        svg text{font-family:inherit}.warning{background:#fdecea;border:1px solid #b3261e;padding:.5rem .8rem;color:#6b1510}
        </style></head><body>
        <h1>Screening report — \(escape(n(r.trialID)))</h1>
        <p class="meta">Computed from the log alone: \(escape(n(r.logSize))) events, head \(escape(n(r.logHead)))\(asOfText(r.asOf)).</p>
        \(r.logWarning.map { "<p class=\"warning\" role=\"alert\"><strong>Warning: the log is not covered by a valid signed checkpoint.</strong> \(escape($0))</p>" } ?? "")
        \(policiesHTML(r.policies))
        <h2>Enrolment flow</h2>
        \(consortSVG(c))
        <div class="row">
        <div><h2>Screen-failure reasons</h2>\(barsSVG(c.excluded.byCriterion))</div>
        <div><h2>Model score by outcome</h2>\(histogramSVG(r.modelScoreHistogram))</div>
        </div>
        """
        html += sitesHTML(r.sites) + criteriaHTML(r.criteria)
        let t = r.timeToDecision
        html += "</table><p>Time from registration to first decision: median \(escape(n(t.medianDays))) days, mean \(escape(n(t.meanDays))), max \(escape(n(t.maxDays))) (\(escape(n(t.count))) candidates).</p>"
        html += screeningLogHTML(r.screeningLog) + correctionsHTML(r.corrections)
        html += "</table></body></html>\n"
        return html
    }

    /// The sites' table (left open).
    private static func sitesHTML(_ sites: [ReportSiteRow]) -> String {
        var html = "<h2>Sites</h2><table><tr><th>site</th><th>assessed</th><th>eligible</th><th>ineligible</th><th>needs review</th><th>stale</th><th>withdrawn</th><th>pending</th><th>confirmed eligible</th><th>confirmed ineligible</th><th>screen-failure rate</th><th>queries open</th><th>answered</th><th>closed</th><th>oldest open (days)</th></tr>"
        for s in sites {
            let q = s.queries
            html += "<tr><td>\(escape(n(s.site)))</td>" + [n(s.assessed), n(s.eligible), n(s.ineligible), n(s.needsReview), n(s.stale), n(s.withdrawn), n(s.pending),
                                                             n(s.confirmedEligible), n(s.confirmedIneligible), n(s.screenFailureRate)]
                .map { "<td class=\"num\">\(escape($0))</td>" }.joined()
                + [n(q.open), n(q.answered), n(q.closed), n(q.maxAgeDaysNotClosed)].map { "<td class=\"num\">\(escape($0))</td>" }.joined() + "</tr>"
        }
        return html
    }

    /// The criteria's table, after closing the previous one (left open).
    private static func criteriaHTML(_ criteria: [ReportCriterionCounts]) -> String {
        var html = "</table><h2>Criteria</h2><table><tr><th>criterion</th><th>pass</th><th>fail</th><th>unknown</th><th>needs attestation</th><th>skipped</th></tr>"
        for k in criteria {
            html += "<tr><td>\(escape(n(k.id)))</td>" + [n(k.pass), n(k.fail), n(k.unknown), n(k.needsAttestation), n(k.skipped)]
                .map { "<td class=\"num\">\(escape($0))</td>" }.joined() + "</tr>"
        }
        return html
    }

    /// The screening log's table (left open).
    private static func screeningLogHTML(_ log: [ScreeningLogRow]) -> String {
        var html = "<h2>Screening log</h2><table><tr><th>candidate</th><th>site</th><th>registered</th><th>status</th><th>decision</th><th>policy</th><th>failed</th><th>unknown</th><th>needs attestation</th><th>signature</th><th>confirmed by investigator</th><th>note</th></tr>"
        for row in log {
            let status = n(row.status)
            let list = { (ids: [String]) in ids.map(escape).joined(separator: ", ") }
            html += "<tr><td>\(escape(n(row.candidate)))</td><td>\(escape(n(row.site)))</td><td>\(escape(n(row.registeredAt)))</td>"
                + "<td class=\"\(escape(status))\">\(escape(status))</td><td class=\"num\">\(escape(n(row.decisionSeq)))</td>"
                + "<td>\(escape(n(row.policy)))</td><td>\(list(row.failed))</td><td>\(list(row.unknown))</td><td>\(list(row.needsAttestation))</td><td>\(escape(n(row.signature)))</td>"
                + "<td>\(escape(confirmation(row)))</td><td>\(escape(note(row)))</td></tr>"
        }
        return html
    }

    /// The corrections' table, after closing the previous one (left open).
    private static func correctionsHTML(_ k: ReportReply.Corrections) -> String {
        var html = "</table><h2>Corrections (\(escape(n(k.count))))</h2><table><tr><th>event</th><th>when (UTC)</th><th>who</th><th>candidate</th><th>field</th><th>old value</th><th>new value</th><th>reason</th></tr>"
        for item in k.items {
            html += "<tr><td class=\"num\">\(escape(n(item.seq)))</td><td>\(escape(n(item.timestamp)))</td><td>\(escape(n(item.actor)))</td>"
                + "<td>\(escape(n(item.candidate)))</td><td>\(escape(n(item.field)))</td><td>\(escape(CanonicalJSON.string(item.oldValue)))</td>"
                + "<td>\(escape(CanonicalJSON.string(item.newValue)))</td><td>\(escape(n(item.reason)))</td></tr>"
        }
        return html
    }

    /// Who confirmed what for a screening-log row, or why nobody has.
    private static func confirmation(_ row: ScreeningLogRow) -> String {
        guard let o = row.signoff else { return row.standing == "current" ? "awaiting sign-off" : "" }
        let what = "\(o.meaning) by \(o.printedName) at \(o.at)"
        return row.confirmed == nil ? "(\(what); no longer current)" : what
    }

    /// A withdrawal's reason, or what makes the decision stale.
    private static func note(_ row: ScreeningLogRow) -> String {
        if let reason = row.withdrawalReason { return reason }
        let causes = row.staleCauses.map { "event \($0.seq): \($0.detail)" }
        return causes.isEmpty ? "" : "stale (proposed \(row.proposed ?? "")): " + causes.joined(separator: "; ")
    }

    private static func asOfText(_ asOf: ReportReply.AsOf?) -> String {
        if let seq = asOf?.seq { return ", as of event \(seq)" }
        if let t = asOf?.time { return ", as of \(escape(t))" }
        return ""
    }

    private static func box(_ x: Int, _ y: Int, _ w: Int, _ h: Int, _ lines: [String], fill: String) -> String {
        var s = "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"\(h)\" rx=\"6\" fill=\"\(fill)\" stroke=\"#6b7a8c\"/>"
        for (i, line) in lines.enumerated() {
            s += "<text x=\"\(x + 12)\" y=\"\(y + 22 + i * 18)\" font-size=\"\(i == 0 ? 14 : 12)\"\(i == 0 ? " font-weight=\"600\"" : "")>\(escape(line))</text>"
        }
        return s
    }

    private static func arrow(_ x1: Int, _ y1: Int, _ x2: Int, _ y2: Int) -> String {
        "<line x1=\"\(x1)\" y1=\"\(y1)\" x2=\"\(x2)\" y2=\"\(y2)\" stroke=\"#6b7a8c\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>"
    }

    /// A CONSORT-style enrolment box diagram.
    static func consortSVG(_ c: ReportConsort) -> String {
        let reasons = c.excluded.byCriterion.sorted { $0.key < $1.key }
        let excludedLines = ["Excluded (n=\(n(c.excluded.total)))", "Not meeting criteria (n=\(n(c.excluded.notMeetingCriteria)))"]
            + reasons.map { "  \($0.key): \(n($0.value))" } + ["Withdrawn (n=\(n(c.excluded.withdrawn)))"]
        let exH = 18 * excludedLines.count + 16
        let height = max(356, 150 + exH)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"\(height)\" viewBox=\"0 0 760 \(height)\" role=\"img\" aria-label=\"CONSORT enrolment flow\">"
        s += "<defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"10\" refX=\"9\" refY=\"3\" orient=\"auto\"><path d=\"M0,0 L9,3 L0,6 z\" fill=\"#6b7a8c\"/></marker></defs>"
        s += box(40, 20, 280, 44, ["Assessed for eligibility (n=\(n(c.assessed)))"], fill: "#eef3f8")
        s += arrow(180, 64, 180, 110)
        s += arrow(180, 86, 400, 86)
        s += box(400, 40, 330, exH, excludedLines, fill: "#fbeeee")
        s += box(40, 112, 280, 62, ["Proposed eligible (n=\(n(c.eligible)))",
                                     "Confirmed by investigator: \(n(c.confirmed.eligible)) eligible, \(n(c.confirmed.ineligible)) ineligible"], fill: "#eaf6ee")
        s += box(40, 186, 280, 44, ["Needs review (n=\(n(c.needsReview)))"], fill: "#fdf5e3")
        s += box(40, 242, 280, 44, ["Stale: decide again (n=\(n(c.stale)))"], fill: "#fdf5e3")
        s += box(40, 298, 280, 44, ["No decision yet (n=\(n(c.pending)))"], fill: "#f3f4f6")
        s += "</svg>"
        return s
    }

    /// Horizontal bars, one per failing criterion.
    static func barsSVG(_ counts: [String: Int]) -> String {
        let items = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        let maxCount = max(1, items.map(\.value).max() ?? 1)
        let height = max(40, 26 * items.count + 10)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"460\" height=\"\(height)\" viewBox=\"0 0 460 \(height)\" role=\"img\" aria-label=\"Screen-failure reasons\">"
        if items.isEmpty { s += "<text x=\"0\" y=\"24\" font-size=\"12\">No screen failures.</text>" }
        for (i, item) in items.enumerated() {
            let value = item.value
            let width = 200 * value / maxCount
            let y = 6 + i * 26
            s += "<text x=\"0\" y=\"\(y + 14)\" font-size=\"12\">\(escape(item.key))</text>"
            s += "<rect x=\"200\" y=\"\(y)\" width=\"\(width)\" height=\"18\" fill=\"#c0504d\"/>"
            s += "<text x=\"\(206 + width)\" y=\"\(y + 14)\" font-size=\"12\">\(value)</text>"
        }
        return s + "</svg>"
    }

    /// Model-score histogram, grouped by outcome.
    static func histogramSVG(_ h: ReportReply.Histogram) -> String {
        let colours = ["eligible": "#2e8b57", "ineligible": "#c0504d", "needs_review": "#d4a017"]
        let outcomes = ["eligible", "ineligible", "needs_review"]
        let series = outcomes.map { o in (o, h.byOutcome[o] ?? []) }
        let maxCount = max(1, series.flatMap(\.1).max() ?? 1)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"460\" height=\"220\" viewBox=\"0 0 460 220\" role=\"img\" aria-label=\"Model score histogram\">"
        s += "<line x1=\"30\" y1=\"180\" x2=\"450\" y2=\"180\" stroke=\"#6b7a8c\"/>"
        for bin in 0..<10 {
            let x0 = 34 + bin * 42
            for (k, (_, counts)) in series.enumerated() where bin < counts.count {
                let height = 150 * counts[bin] / maxCount
                s += "<rect x=\"\(x0 + k * 12)\" y=\"\(180 - height)\" width=\"11\" height=\"\(height)\" fill=\"\(colours[outcomes[k]]!)\"/>"
            }
            s += "<text x=\"\(x0 + 4)\" y=\"196\" font-size=\"10\">\(String(format: "%.1f", Double(bin) / 10))</text>"
        }
        for (k, o) in outcomes.enumerated() {
            s += "<rect x=\"\(40 + k * 130)\" y=\"204\" width=\"10\" height=\"10\" fill=\"\(colours[o]!)\"/><text x=\"\(54 + k * 130)\" y=\"213\" font-size=\"11\">\(o)</text>"
        }
        s += "<text x=\"30\" y=\"14\" font-size=\"11\">candidates per 0.1 score bin (latest decision)</text>"
        return s + "</svg>"
    }

    /// The policies in force over the report's period, each with when it began (and ended).
    static func policiesHTML(_ policies: [ReportReply.PolicyPeriod]) -> String {
        let items = policies.map { p in
            "<li>\(escape(n(p.id))) \(escape(n(p.version))), in force from \(escape(n(p.inForceFrom)))"
                + (p.inForceUntil.map { " until \(escape($0))" } ?? "") + " (event \(escape(n(p.seq))))</li>"
        }
        return items.isEmpty ? "<p>No policy published.</p>" : "<p>Policies in force:</p><ul>\(items.joined())</ul>"
    }
}
