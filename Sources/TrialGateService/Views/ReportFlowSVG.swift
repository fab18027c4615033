import TrialGateCore

/// The CONSORT flow diagram of a report as inline SVG (CONSORT 2010, Schulz et al., BMJ 2010;340:c332, figure 1):
/// boxes on a main column (assessed → eligible → confirmed), side boxes where candidates leave it, and an arrow from
/// each box to the next. Every candidate ends in exactly one box without an arrow leaving it (`ReportFlow`).
///
/// Boxes are `<rect class="flow-box" data-box="…">` and arrows `<path class="flow-arrow" data-from="…" data-to="…">` that
/// start on their source box's edge and end on their target's, so `scripts/report-layout.py` can check the geometry.
enum ReportFlowSVG {
    /// A box: its id, lines (the first is its title) and fill.
    private struct Box {
        var id: String
        var lines: [String]
        var fill: String
        var x = 0, y = 0, width = 0

        var height: Int { 16 + 18 * lines.count }
    }

    /// Widths the text is laid out with: an average character of the page's sans-serif at 12 px (titles at 13.5 px,
    /// bold), rounded up, so that the text stays inside its box (the layout check measures it).
    private static func textWidth(_ lines: [String]) -> Int {
        lines.enumerated().map { i, line in Int((Double(line.count) * (i == 0 ? 8.4 : 7.2)).rounded(.up)) }.max() ?? 0
    }

    private static let mainX = 30, gap = 14, sideGap = 110

    static func render(_ f: ReportFlow) -> String {
        let n = ReportHTML.n as (Int) -> String
        var assessed = Box(id: "assessed", lines: ["Assessed for eligibility (n=\(n(f.assessed)))", "registered candidates"], fill: "#eef3f8")
        var eligible = Box(id: "eligible", lines: ["Found eligible (n=\(n(f.eligible)))", "current eligible decision, or withdrawn after one"],
                           fill: "#eaf6ee")
        var confirmed = Box(id: "confirmed", lines: ["Confirmed eligible by investigator (n=\(n(f.confirmedEligible)))",
                                                     "signed sign-off of the current decision"], fill: "#d7efdf")
        let criteria = f.excluded.byCriterion.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        var excludedLines = ["Excluded: not meeting criteria (n=\(n(f.excluded.total)))"]
        excludedLines += criteria.map { "• \($0.key): \(n($0.value))" }
        if f.excluded.failedMoreThanOne > 0 {
            excludedLines.append("of whom \(n(f.excluded.failedMoreThanOne)) failed more than one criterion,")
            excludedLines.append("so the criterion counts sum to more than \(n(f.excluded.total))")
        }
        excludedLines.append("confirmed by investigator: \(n(f.excluded.confirmed)); overridden to eligible: \(n(f.excluded.overriddenEligible))")
        var upper = [
            Box(id: "excluded", lines: excludedLines, fill: "#fbeeee"),
            Box(id: "undecided", lines: ["Not yet decided (n=\(n(f.undecided.total)))", "no decision yet: \(n(f.undecided.noDecision))",
                                          "needs review: \(n(f.undecided.needsReview))", "stale, to decide again: \(n(f.undecided.stale))"],
                fill: "#fdf5e3"),
            Box(id: "withdrawn-before", lines: withdrawnLines("Withdrawn during assessment", f.withdrawnBeforeEligible), fill: "#f3f4f6"),
        ]
        var lower = [
            Box(id: "withdrawn-after", lines: withdrawnLines("Withdrawn after found eligible", f.withdrawnAfterEligible), fill: "#f3f4f6"),
            Box(id: "awaiting", lines: ["Awaiting investigator sign-off (n=\(n(f.awaitingSignoff)))"], fill: "#fdf5e3"),
            Box(id: "overridden", lines: ["Overridden to ineligible by investigator (n=\(n(f.overriddenIneligible)))"], fill: "#fbeeee"),
        ]
        let mainWidth = max(300, textWidth(assessed.lines + eligible.lines + confirmed.lines) + 24)
        let sideWidth = max(300, textWidth((upper + lower).flatMap(\.lines)) + 24)
        let sideX = mainX + mainWidth + sideGap
        // Main boxes on the left; each group of side boxes stacked between two main boxes.
        assessed.x = mainX; assessed.y = 10; assessed.width = mainWidth
        var y = assessed.y + assessed.height + 22
        for i in upper.indices { (upper[i].x, upper[i].y, upper[i].width) = (sideX, y, sideWidth); y += upper[i].height + gap }
        eligible.x = mainX; eligible.y = y + 8; eligible.width = mainWidth
        y = eligible.y + eligible.height + 22
        for i in lower.indices { (lower[i].x, lower[i].y, lower[i].width) = (sideX, y, sideWidth); y += lower[i].height + gap }
        confirmed.x = mainX; confirmed.y = y + 8; confirmed.width = mainWidth
        let width = sideX + sideWidth + 10, height = confirmed.y + confirmed.height + 10
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"flow\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\""
            + " role=\"img\" aria-label=\"CONSORT enrolment flow\">"
        s += "<defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"10\" refX=\"9\" refY=\"3\" orient=\"auto\"><path d=\"M0,0 L9,3 L0,6 z\" fill=\"#4a5a6c\"/></marker></defs>"
        // Arrows first, so boxes are drawn over the trunk where it meets them.
        let trunk = mainX + mainWidth / 2
        for side in upper { s += arrow(from: assessed, to: side, trunk: trunk) }
        s += arrow(from: assessed, to: eligible, trunk: trunk)
        for side in lower { s += arrow(from: eligible, to: side, trunk: trunk) }
        s += arrow(from: eligible, to: confirmed, trunk: trunk)
        for box in [assessed, eligible, confirmed] + upper + lower { s += draw(box) }
        return s + "</svg>"
    }

    /// A withdrawn box's lines: its total, then each CONSORT category (`not_recorded` shown as "category not recorded").
    private static func withdrawnLines(_ title: String, _ w: ReportFlow.Withdrawn) -> [String] {
        let order = WithdrawalCategory.codes + [ScreeningTally.notRecorded]
        let label = { (code: String) in
            WithdrawalCategory(rawValue: code)?.label ?? (code == ScreeningTally.notRecorded ? "Category not recorded" : code)
        }
        let items = w.byCategory.sorted { (order.firstIndex(of: $0.key) ?? order.count, $0.key) < (order.firstIndex(of: $1.key) ?? order.count, $1.key) }
        return ["\(title) (n=\(ReportHTML.n(w.total)))"] + items.map { "• \(label($0.key)): \(ReportHTML.n($0.value))" }
    }

    private static func draw(_ b: Box) -> String {
        var s = "<g class=\"flow-node\"><rect class=\"flow-box\" data-box=\"\(b.id)\" x=\"\(b.x)\" y=\"\(b.y)\" width=\"\(b.width)\" height=\"\(b.height)\""
            + " rx=\"6\" fill=\"\(b.fill)\" stroke=\"#4a5a6c\"/>"
        for (i, line) in b.lines.enumerated() {
            let style = i == 0 ? " font-size=\"13.5\" font-weight=\"600\"" : " font-size=\"12\""
            s += "<text x=\"\(b.x + 12)\" y=\"\(b.y + 22 + i * 18)\"\(style)>\(ReportHTML.escape(line))</text>"
        }
        return s + "</g>"
    }

    /// An arrow from the bottom of `a` down the trunk, then across to the left edge of a side box or down to the top of
    /// the next main box.
    private static func arrow(from a: Box, to b: Box, trunk: Int) -> String {
        let start = "M\(trunk),\(a.y + a.height)"
        let path = b.x == a.x ? "\(start) V\(b.y)" : "\(start) V\(b.y + b.height / 2) H\(b.x)"
        return "<path class=\"flow-arrow\" data-from=\"\(a.id)\" data-to=\"\(b.id)\" d=\"\(path)\" fill=\"none\" stroke=\"#4a5a6c\""
            + " stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>"
    }
}
