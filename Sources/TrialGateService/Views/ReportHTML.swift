import Foundation
import TrialGateCore

/// The screening report as one self-contained HTML page: inline CSS and SVG, no scripts, no external assets.
public enum ReportHTML {
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

    /// The page's style: one line for timestamps and site names (`nowrap`), charts that shrink to the page, and a
    /// landscape A4 print layout for the PDF.
    private static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:1.5rem auto;max-width:1240px;color:#1d2733;padding:0 1rem}
        h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #d5dbe3;padding-bottom:.2rem}
        .meta{color:#3d4a59;font-size:.85rem;margin:.2rem 0}.meta code{font-size:.8rem}table{border-collapse:collapse;font-size:.8rem;margin-top:.5rem}
        th,td{border-bottom:1px solid #e3e8ee;padding:.22rem .45rem;text-align:left;vertical-align:top}th{background:#f3f6f9}
        table.log{width:100%}table.log td:nth-child(4){white-space:nowrap}table.log td:nth-child(8),table.log td:nth-child(9){overflow-wrap:anywhere}
        td.num{text-align:right;font-variant-numeric:tabular-nums}.eligible{color:#1b7a3e}.ineligible{color:#b3261e}
        .needs_review,.stale{color:#9a6700}.withdrawn,.pending{color:#5a6878}.row{display:flex;gap:2rem;flex-wrap:wrap;align-items:flex-start}
        .ts,.site,.id{white-space:nowrap}.id.long{white-space:normal;overflow-wrap:anywhere}.verified{color:#1b7a3e;font-weight:600}.not-verified{color:#b3261e;font-weight:600}
        svg{max-width:100%;height:auto}svg text{font-family:inherit;fill:#1d2733}
        .warning{background:#fdecea;border:1px solid #b3261e;padding:.5rem .8rem;color:#6b1510}.note{font-size:.8rem;color:#3d4a59}
        @page{size:A4 landscape;margin:10mm}
        @media print{body{margin:0;max-width:none;padding:0;print-color-adjust:exact;-webkit-print-color-adjust:exact}h2{break-after:avoid}
        tr,svg{break-inside:avoid}table{font-size:.68rem}svg.flow{max-height:132mm;width:auto;height:auto}}
        """

    /// What the page may load: nothing but its own inline style. Every text is escaped; this is the second wall, so
    /// that a text that ever slipped through could not run a script or fetch a file or a URL, in a browser or in the
    /// headless Chromium that prints the PDF (`report --format pdf`). SVG `url(#arrow)` is a reference within the page.
    public static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

    /// `html` with `contentSecurityPolicy` as its first element (after a leading doctype, which keeps the layout out of
    /// quirks mode), whatever else it carries. The PDF's Chromium runs without a sandbox, so the page it opens is
    /// guarded where it is written, not only where it is made: should a page ever come from elsewhere (a server, a file),
    /// no script runs and no file or URL is fetched. A second policy can only narrow the page's own (CSP 3).
    public static func guarded(_ html: String) -> String {
        let meta = "<meta http-equiv=\"Content-Security-Policy\" content=\"\(contentSecurityPolicy)\">"
        let doctype = "<!DOCTYPE html>"
        return html.hasPrefix(doctype) ? doctype + "\n" + meta + html.dropFirst(doctype.count) : meta + html
    }

    /// A timestamp, kept on one line.
    static func ts(_ s: String?) -> String { "<span class=\"ts\">\(escape(n(s)))</span>" }

    /// A site name, kept on one line.
    static func site(_ s: String?) -> String { "<span class=\"site\">\(escape(n(s)))</span>" }
    /// An identifier on one line; one longer than `longID` characters (ids may have 64) may break anywhere, or a
    /// column of them would push the page past 1280 px.
    static func id(_ s: String?) -> String {
        let text = n(s)
        return "<span class=\"id\(text.count > longID ? " long" : "")\">\(escape(text))</span>"
    }
    static let longID = 24

    /// The page of `r`, the typed report.
    static func render(_ r: ReportReply) -> String {
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <meta http-equiv="Content-Security-Policy" content="\(contentSecurityPolicy)">
        <title>Screening report \(escape(n(r.trialID)))</title>
        <style>
        \(style)
        </style></head><body>
        <h1>Screening report — \(escape(n(r.trialID)))</h1>
        \(headerHTML(r))
        \(r.logWarning.map { "<p class=\"warning\" role=\"alert\"><strong>Warning: the log is not covered by a valid signed checkpoint.</strong> \(escape($0))</p>" } ?? "")
        <h2>Enrolment flow (CONSORT)</h2>
        \(ReportFlowSVG.render(r.consort.flow))
        <p class="note">Each candidate is counted in exactly one box that no arrow leaves. A candidate failing several criteria is counted once among the excluded and under each criterion it failed. Withdrawals are shown where they happened, by their CONSORT 2010 category.</p>
        <div class="row">
        <div><h2>Screen-failure reasons</h2>\(ReportCharts.bars(r.consort.flow.excluded.byCriterion))<p class="note">Excluded candidates per failed criterion (one candidate may count under several).</p></div>
        <div><h2>Model score by outcome</h2>\(ReportCharts.histogram(r.modelScoreHistogram.byOutcome))</div>
        </div>
        """
        html += sitesHTML(r.sites) + criteriaHTML(r.criteria)
        let t = r.timeToDecision
        html += "</table><p>Time from registration to first decision: median \(escape(n(t.medianDays))) days, mean \(escape(n(t.meanDays))), max \(escape(n(t.maxDays))) (\(escape(n(t.count))) candidates).</p>"
        html += screeningLogHTML(r.screeningLog) + correctionsHTML(r.corrections)
        html += "</table></body></html>\n"
        return html
    }

    /// The header: the log (size, head), its signed checkpoint and whether it verified, the point and filter of the
    /// report, and the policies in force.
    static func headerHTML(_ r: ReportReply) -> String {
        var lines = ["<p class=\"meta\">Computed from the log alone: <strong>\(escape(n(r.logSize))) events</strong>, head <code>\(escape(r.logHead))</code>\(asOfText(r.asOf)).</p>"]
        if let k = r.checkpoint {
            let verdict = k.verified ? "<span class=\"verified\">verified</span>" : "<span class=\"not-verified\">NOT verified</span>"
            lines.append("<p class=\"meta\">Signed checkpoint: size \(escape(n(k.size))), root <code>\(escape(k.root))</code>, issued \(ts(k.issuedAt)) — \(verdict): \(escape(k.detail)).</p>")
        } else {
            lines.append("<p class=\"meta\">Signed checkpoint: <span class=\"not-verified\">none</span> at or before this point.</p>")
        }
        let f = r.filter
        if f.site != nil || f.from != nil || f.to != nil {
            lines.append("<p class=\"meta\">Filter: site \(site(f.site ?? "all")), registered \(escape(f.from ?? "any time")) to \(escape(f.to ?? "any time")).</p>")
        }
        return lines.joined(separator: "\n") + "\n" + policiesHTML(r.policies)
    }

    /// The sites' table (left open).
    private static func sitesHTML(_ sites: [ReportSiteRow]) -> String {
        var html = "<h2>Sites</h2><table><tr><th>site</th><th>assessed</th><th>eligible</th><th>ineligible</th><th>needs review</th><th>stale</th><th>withdrawn</th><th>pending</th><th>confirmed eligible</th><th>confirmed ineligible</th><th>screen-failure rate</th><th>queries open</th><th>answered</th><th>closed</th><th>oldest open (days)</th></tr>"
        for s in sites {
            let q = s.queries
            html += "<tr><td>\(site(s.site))</td>" + [n(s.assessed), n(s.eligible), n(s.ineligible), n(s.needsReview), n(s.stale), n(s.withdrawn), n(s.pending),
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
        var html = "<h2>Screening log</h2><p class=\"note\">Criteria not met: ✗ failed, ? unknown, ✎ needs an investigator's attestation.</p>"
            + "<table class=\"log\"><tr><th>candidate</th><th>site</th><th>registered (UTC)</th><th>status</th><th>decision</th><th>criteria not met</th><th>signature</th><th>confirmed by investigator</th><th>note</th></tr>"
        for row in log {
            let status = n(row.status)
            let criteria = row.failed.map { "✗ \(escape($0))" } + row.unknown.map { "? \(escape($0))" } + row.needsAttestation.map { "✎ \(escape($0))" }
            let decision = row.decisionSeq.map { "event \($0)<br>\(id(row.policy))" } ?? "–"
            html += "<tr><td>\(id(row.candidate))</td><td>\(site(row.site))</td><td>\(ts(row.registeredAt))</td>"
                + "<td class=\"\(escape(status))\">\(escape(status))</td><td>\(decision)</td>"
                + "<td>\(criteria.joined(separator: "<br>"))</td><td>\(escape(n(row.signature)))</td>"
                + "<td>\(confirmation(row))</td><td>\(note(row))</td></tr>"
        }
        return html
    }

    /// The corrections' table, after closing the previous one (left open).
    private static func correctionsHTML(_ k: ReportReply.Corrections) -> String {
        var html = "</table><h2>Corrections (\(escape(n(k.count))))</h2><table><tr><th>event</th><th>when (UTC)</th><th>who</th><th>candidate</th><th>field</th><th>old value</th><th>new value</th><th>reason</th></tr>"
        for item in k.items {
            html += "<tr><td class=\"num\">\(escape(n(item.seq)))</td><td>\(ts(item.timestamp))</td><td>\(escape(n(item.actor)))</td>"
                + "<td>\(id(item.candidate))</td><td>\(escape(n(item.field)))</td><td>\(escape(CanonicalJSON.string(item.oldValue)))</td>"
                + "<td>\(escape(CanonicalJSON.string(item.newValue)))</td><td>\(escape(n(item.reason)))</td></tr>"
        }
        return html
    }

    /// Who confirmed what for a screening-log row, or why nobody has (HTML).
    private static func confirmation(_ row: ScreeningLogRow) -> String {
        guard let o = row.signoff else { return row.standing == "current" ? "awaiting sign-off" : "" }
        let what = "\(escape(o.meaning)) by \(escape(o.printedName)) at \(ts(o.at))"
        return row.confirmed == nil ? "(\(what); no longer current)" : what
    }

    /// How a withdrawal's CONSORT category reads (`not_recorded`: a withdrawal from before categories existed).
    static func categoryLabel(_ code: String) -> String {
        WithdrawalCategory(rawValue: code)?.label ?? (code == ScreeningTally.notRecorded ? "category not recorded" : code)
    }

    /// A withdrawal's category and reason, or what makes the decision stale (HTML).
    private static func note(_ row: ScreeningLogRow) -> String {
        if let code = row.withdrawalCategory {
            return "withdrawn: <strong>\(escape(categoryLabel(code)))</strong>" + (row.withdrawalReason.map { " — \(escape($0))" } ?? "")
        }
        let causes = row.staleCauses.map { "event \($0.seq): \($0.detail)" }
        return causes.isEmpty ? "" : escape("stale (proposed \(row.proposed ?? "")): " + causes.joined(separator: "; "))
    }

    private static func asOfText(_ asOf: ReportReply.AsOf?) -> String {
        if let seq = asOf?.seq { return ", as of event \(seq)" }
        if let t = asOf?.time { return ", as of \(ts(t))" }
        return ""
    }

    /// The policies in force over the report's period, each with when it began (and ended).
    static func policiesHTML(_ policies: [ReportReply.PolicyPeriod]) -> String {
        let items = policies.map { p in
            "<li><strong>\(escape(n(p.id))) \(escape(n(p.version)))</strong>, in force from \(ts(p.inForceFrom))"
                + (p.inForceUntil.map { " until \(ts($0))" } ?? "") + " (event \(escape(n(p.seq))), text SHA-256 <code>\(escape(String(p.sha256.prefix(16))))…</code>)</li>"
        }
        return items.isEmpty ? "<p>No policy published.</p>" : "<p class=\"meta\">Policies in force over the period:</p><ul class=\"meta\">\(items.joined())</ul>"
    }
}
