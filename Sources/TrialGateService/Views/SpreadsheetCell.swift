/// A CSV cell made safe to open in a spreadsheet: a cell that a spreadsheet would run as a formula gets a leading `'`.
///
/// A value a user typed (a reason, an actor's name, a free-text field) reaches whoever opens the audit CSV; one that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by spreadsheets as a formula (OWASP, "CSV
/// Injection"), which can fetch URLs or run commands. A number (`-0.5`) stays as it is: a spreadsheet reads it as a
/// number, and the audit trail holds many. A cell that already starts with `'` gets one more, so the rule reverses
/// exactly: drop one leading `'` from every cell that has one.
enum SpreadsheetCell {
    /// `text`, with a `'` in front when a spreadsheet would otherwise read it as a formula, or when it starts with `'`.
    static func neutralised(_ text: String) -> String {
        guard let first = text.unicodeScalars.first else { return text }
        switch first {
        case "'", "=", "+", "@", "\t", "\r": return "'" + text
        case "-": return isNumber(text) ? text : "'" + text
        default: return text
        }
    }

    /// Whether `text` is a decimal number: an optional `-`, digits, an optional fraction and exponent (as JSON writes
    /// numbers, RFC 8259 section 6, leading zeros allowed).
    static func isNumber(_ text: String) -> Bool {
        var s = Substring(text).unicodeScalars
        func digits() -> Int {
            var n = 0
            while let c = s.first, ("0"..."9").contains(c) { s.removeFirst(); n += 1 }
            return n
        }
        if s.first == "-" { s.removeFirst() }
        guard digits() > 0 else { return false }
        if s.first == "." {
            s.removeFirst()
            guard digits() > 0 else { return false }
        }
        if s.first == "e" || s.first == "E" {
            s.removeFirst()
            if s.first == "+" || s.first == "-" { s.removeFirst() }
            guard digits() > 0 else { return false }
        }
        return s.isEmpty
    }
}
