import Foundation

/// The report's charts as inline SVG: screen-failure reasons as bars, model scores as a histogram with axes.
enum ReportCharts {
    /// Horizontal bars, one per criterion failed by an excluded candidate, with the count at the end of each bar.
    static func bars(_ counts: [String: Int]) -> String {
        let escape = ReportHTML.escape
        let items = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        let maxCount = max(1, items.map(\.value).max() ?? 1)
        let labelWidth = max(120, Int((Double(items.map(\.key.count).max() ?? 0) * 7.2).rounded(.up)) + 10)
        let width = labelWidth + 260, height = max(40, 26 * items.count + 10)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\""
            + " role=\"img\" aria-label=\"Screen-failure reasons\">"
        if items.isEmpty { s += "<text x=\"0\" y=\"24\" font-size=\"12\">No screen failures.</text>" }
        for (i, item) in items.enumerated() {
            let barWidth = 200 * item.value / maxCount
            let y = 6 + i * 26
            s += "<text x=\"0\" y=\"\(y + 14)\" font-size=\"12\">\(escape(item.key))</text>"
            s += "<rect class=\"bar\" x=\"\(labelWidth)\" y=\"\(y)\" width=\"\(barWidth)\" height=\"18\" fill=\"#c0504d\"/>"
            s += "<text class=\"count\" x=\"\(labelWidth + barWidth + 6)\" y=\"\(y + 14)\" font-size=\"12\">\(item.value)</text>"
        }
        return s + "</svg>"
    }

    /// Tick values for an axis from 0 to at least `maxValue`: 0, then steps of 1, 2 or 5 × 10ⁿ, at most about five.
    static func ticks(upTo maxValue: Int) -> [Int] {
        let top = max(1, maxValue)
        var magnitude = 1, step = 1
        while (top + step - 1) / step > 5 {
            if let next = [1, 2, 5].map({ $0 * magnitude }).first(where: { $0 > step && (top + $0 - 1) / $0 <= 5 }) { step = next } else {
                magnitude *= 10
                step = magnitude
            }
        }
        let last = (top + step - 1) / step * step
        return Array(stride(from: 0, through: last, by: step))
    }

    /// The model-score histogram: candidates per 0.1 bin of their current score, by outcome, with both axes labelled,
    /// tick values, and the count above each bar.
    static func histogram(_ byOutcome: [String: [Int]]) -> String {
        let colours = ["eligible": "#2e8b57", "ineligible": "#c0504d", "needs_review": "#d4a017"]
        let outcomes = ["eligible", "ineligible", "needs_review"]
        let series = outcomes.map { byOutcome[$0] ?? [] }
        let ticks = ticks(upTo: series.flatMap { $0 }.max() ?? 0)
        let top = ticks.last!
        // Plot area: x from 56 to 476 (ten bins of 42), y from 30 (top) to 210 (zero).
        let (left, zero, plotHeight, binWidth) = (56, 210, 180, 42)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"500\" height=\"290\" viewBox=\"0 0 500 290\" role=\"img\""
            + " aria-label=\"Model score histogram\">"
        for t in ticks {
            let y = zero - plotHeight * t / top
            s += "<line x1=\"\(left - 4)\" y1=\"\(y)\" x2=\"\(left + 10 * binWidth)\" y2=\"\(y)\" stroke=\"\(t == 0 ? "#4a5a6c" : "#e3e8ee")\"/>"
            s += "<text class=\"tick tick-y\" x=\"\(left - 8)\" y=\"\(y + 4)\" font-size=\"11\" text-anchor=\"end\">\(t)</text>"
        }
        s += "<line x1=\"\(left)\" y1=\"\(zero - plotHeight)\" x2=\"\(left)\" y2=\"\(zero)\" stroke=\"#4a5a6c\"/>"
        for bin in 0..<10 {
            let x0 = left + bin * binWidth
            for (k, counts) in series.enumerated() where bin < counts.count && counts[bin] > 0 {
                let h = plotHeight * counts[bin] / top
                let x = x0 + 4 + k * 12
                s += "<rect class=\"bar\" x=\"\(x)\" y=\"\(zero - h)\" width=\"11\" height=\"\(h)\" fill=\"\(colours[outcomes[k]]!)\"/>"
                s += "<text class=\"count\" x=\"\(x + 5)\" y=\"\(zero - h - 3)\" font-size=\"9.5\" text-anchor=\"middle\">\(counts[bin])</text>"
            }
        }
        for edge in 0...10 {
            let x = left + edge * binWidth
            s += "<line x1=\"\(x)\" y1=\"\(zero)\" x2=\"\(x)\" y2=\"\(zero + 4)\" stroke=\"#4a5a6c\"/>"
            s += "<text class=\"tick tick-x\" x=\"\(x)\" y=\"\(zero + 16)\" font-size=\"11\" text-anchor=\"middle\">\(String(format: "%.1f", Double(edge) / 10))</text>"
        }
        s += "<text x=\"\(left + 5 * binWidth)\" y=\"\(zero + 34)\" font-size=\"12\" text-anchor=\"middle\">model score (current score, bins of 0.1)</text>"
        s += "<text x=\"14\" y=\"\(zero - plotHeight / 2)\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(zero - plotHeight / 2))\">candidates</text>"
        s += "<text x=\"\(left)\" y=\"\(zero + 57)\" font-size=\"11\">latest decision:</text>"
        for (k, o) in outcomes.enumerated() {
            s += "<rect x=\"\(left + 96 + k * 100)\" y=\"\(zero + 48)\" width=\"10\" height=\"10\" fill=\"\(colours[o]!)\"/>"
            s += "<text x=\"\(left + 110 + k * 100)\" y=\"\(zero + 57)\" font-size=\"11\">\(o.replacing("_", with: " "))</text>"
        }
        return s + "</svg>"
    }
}
