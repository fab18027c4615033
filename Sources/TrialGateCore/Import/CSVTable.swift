/// A CSV file read strictly: UTF-8 (a byte-order mark at the start is skipped), fields as RFC 4180 quotes them.
///
/// Rows are numbered as a spreadsheet numbers them: the header is row 1. A quoted field may hold line breaks, so a
/// row's number is not always its line number; each row keeps the line it starts on too.
public struct CSVTable: Sendable {
    /// One row: its spreadsheet number, the line it starts on, and its fields.
    public struct Row: Sendable, Equatable {
        public let number: Int
        public let line: Int
        public let fields: [String]
    }

    /// The header row's fields.
    public let header: [String]
    /// The rows after the header, blank lines left out.
    public let rows: [Row]

    /// Reads `bytes` as a CSV file.
    /// - Throws: `ImportProblems` naming every byte that is not UTF-8 (its offset, line and row), or where the quoting is
    ///   broken; nothing is read from a file that is not well-formed.
    public static func read(_ bytes: [UInt8]) throws -> CSVTable {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        let encoding = encodingProblems(bytes, from: start)
        if !encoding.isEmpty { throw ImportProblems(encoding) }
        let text = String(decoding: bytes[start...], as: UTF8.self)
        var parser = Parser()
        for scalar in text.unicodeScalars { parser.take(scalar) }
        try parser.end()
        guard let first = parser.rows.first else {
            throw ImportProblems([ImportProblem(row: 1, column: "", value: "", expected: "a header row naming the columns (the file is empty)")])
        }
        return CSVTable(header: first.fields, rows: Array(parser.rows.dropFirst()))
    }

    /// Every byte sequence that is not UTF-8 (RFC 3629), with its byte offset from the start of the file and its line.
    static func encodingProblems(_ bytes: [UInt8], from start: Int) -> [ImportProblem] {
        var problems: [ImportProblem] = []
        var line = 1, row = 1, quoted = false
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            let length = utf8Length(bytes, at: i)
            if length == 0 {
                let hex = String(b, radix: 16, uppercase: true)
                problems.append(ImportProblem(row: row, column: "", value: "byte 0x\(hex.count == 1 ? "0" + hex : hex) at byte offset \(i) (line \(line))",
                                              expected: "UTF-8 text (save the file as \"CSV UTF-8\"; a Latin-1 or Windows-1252 file is refused)"))
                if problems.count >= ImportProblems.listed { break }
                i += 1
                continue
            }
            if b == 0x22 { quoted.toggle() }
            if b == 0x0A {
                line += 1
                if !quoted { row += 1 }
            }
            i += length
        }
        return problems
    }

    /// The length of the well-formed UTF-8 sequence at `i`, or 0 if there is none (overlong forms, surrogates and
    /// code points above U+10FFFF are not UTF-8).
    static func utf8Length(_ bytes: [UInt8], at i: Int) -> Int {
        let b = bytes[i]
        func cont(_ k: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool { i + k < bytes.count && range.contains(bytes[i + k]) }
        switch b {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return cont(1) ? 2 : 0
        case 0xE0: return cont(1, 0xA0...0xBF) && cont(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : 0
        case 0xED: return cont(1, 0x80...0x9F) && cont(2) ? 3 : 0
        case 0xF0: return cont(1, 0x90...0xBF) && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4: return cont(1, 0x80...0x8F) && cont(2) && cont(3) ? 4 : 0
        default: return 0
        }
    }

    /// RFC 4180 fields, one character at a time. Lines end in CRLF or LF; a quote inside a quoted field is doubled.
    private struct Parser {
        var rows: [Row] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var rowLine = 1
        var rowNumber = 0
        enum Mode { case start, unquoted, quoted, quoteInQuoted }
        var mode = Mode.start
        var pendingCR = false

        mutating func take(_ c: Unicode.Scalar) {
            if pendingCR {
                pendingCR = false
                if c == "\n" { return }
            }
            switch mode {
            case .start, .unquoted:
                if c == "\"" && mode == .start { mode = .quoted; return }
                if c == "," { endField(); return }
                if c == "\r" || c == "\n" { pendingCR = c == "\r"; endRow(); line += 1; return }
                // A quote in the middle of an unquoted field is kept as text, as spreadsheets read it.
                field.unicodeScalars.append(c)
                mode = .unquoted
            case .quoted:
                if c == "\"" { mode = .quoteInQuoted; return }
                if c == "\n" { line += 1 }
                field.unicodeScalars.append(c)
            case .quoteInQuoted:
                if c == "\"" { field.append("\""); mode = .quoted; return }
                if c == "," { endField(); return }
                if c == "\r" || c == "\n" { pendingCR = c == "\r"; endRow(); line += 1; return }
                problems.append(ImportProblem(row: rowNumber + 1, column: "", value: "text after a closing quote at line \(line)",
                                              expected: "a quoted field to end at a comma or a line end (RFC 4180: a quote inside quotes is written \"\")"))
                field.unicodeScalars.append(c)
                mode = .unquoted
            }
        }

        var problems: [ImportProblem] = []

        mutating func endField() {
            fields.append(field)
            field = ""
            mode = .start
        }

        mutating func endRow() {
            endField()
            rowNumber += 1
            // A blank line is no row (spreadsheets often end a file with one), but it keeps its number.
            if !(fields.count == 1 && fields[0].isEmpty) { rows.append(Row(number: rowNumber, line: rowLine, fields: fields)) }
            fields = []
            rowLine = line + 1
        }

        mutating func end() throws {
            if mode == .quoted {
                problems.append(ImportProblem(row: rowNumber + 1, column: "", value: "a quoted field opened at line \(rowLine) and never closed",
                                              expected: "a closing quote (RFC 4180)"))
            } else if mode != .start || !fields.isEmpty || !field.isEmpty {
                endRow()
            }
            if !problems.isEmpty { throw ImportProblems(problems) }
        }
    }
}
