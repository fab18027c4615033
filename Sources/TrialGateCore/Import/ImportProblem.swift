/// One thing wrong with an import file: where (its spreadsheet row, 1 being the header, and its column), the value
/// found there, and what was expected instead.
public struct ImportProblem: Sendable, Equatable, Hashable, Codable {
    /// The spreadsheet row (the header is row 1; 0 for the file as a whole).
    public let row: Int
    /// The column's name from the header ("" for the whole row or the whole file).
    public let column: String
    /// What the cell holds (or what was found, for a problem of the file).
    public let value: String
    /// What was expected: the field's rule, with units and allowed values.
    public let expected: String

    /// The longest column name or value a problem repeats, and the longest explanation: a file's cell can be
    /// megabytes long, and every problem is sent back (over the socket too) and printed.
    public static let shownLength = 200, explainedLength = 2000

    /// - Note: a `column` or `value` past `shownLength` characters (an `expected` past `explainedLength`) is cut,
    ///   saying how long it was.
    public init(row: Int, column: String, value: String, expected: String) {
        (self.row, self.column, self.value, self.expected) = (row, Self.clipped(column, Self.shownLength), Self.clipped(value, Self.shownLength),
                                                              Self.clipped(expected, Self.explainedLength))
    }

    /// `text`, or its first `limit` characters and how many it has.
    static func clipped(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        let count = text.count
        return count <= limit ? text : String(text.prefix(limit)) + "… (\(count) characters)"
    }

    /// `row 12, column anc: "2 x" — expected …`, the line the command line prints. What the file holds is shown with
    /// control, format (direction-changing, invisible) and line-separating characters as `\u{1B}`: a hostile file
    /// must not drive the terminal that prints its problems, nor make one problem look like several.
    public var line: String {
        let place = row == 0 ? "file" : column.isEmpty ? "row \(row)" : "row \(row), column \(Self.shown(column))"
        return "\(place): \(value.isEmpty ? "(empty)" : "\"\(Self.shown(value))\"") — \(Self.shown(expected))"
    }

    /// `text` with every control, format and line or paragraph separator character written as `\u{XXXX}`.
    static func shown(_ text: String) -> String {
        var out = ""
        for s in text.unicodeScalars {
            switch s.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: out += "\\u{" + String(s.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(s)
            }
        }
        return out
    }
}

/// The problems that stop an import file being read at all (its encoding or its quoting), thrown by `CSVTable.read`.
public struct ImportProblems: Error, Sendable {
    /// The most problems of one kind listed; a file past it is badly wrong already.
    public static let listed = 1000

    public let problems: [ImportProblem]

    public init(_ problems: [ImportProblem]) { self.problems = problems }
}
