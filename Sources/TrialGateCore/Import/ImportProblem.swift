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

    public init(row: Int, column: String, value: String, expected: String) {
        (self.row, self.column, self.value, self.expected) = (row, column, value, expected)
    }

    /// `row 12, column anc: "2 x" — expected …`, the line the command line prints.
    public var line: String {
        let place = row == 0 ? "file" : column.isEmpty ? "row \(row)" : "row \(row), column \(column)"
        return "\(place): \(value.isEmpty ? "(empty)" : "\"\(value)\"") — \(expected)"
    }
}

/// The problems that stop an import file being read at all (its encoding or its quoting), thrown by `CSVTable.read`.
public struct ImportProblems: Error, Sendable {
    /// The most problems of one kind listed; a file past it is badly wrong already.
    public static let listed = 1000

    public let problems: [ImportProblem]

    public init(_ problems: [ImportProblem]) { self.problems = problems }
}
