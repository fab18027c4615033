/// An import file's rows as the records they stand for, and every problem a row or the header has on its own
/// (without the log): unknown or missing columns, kinds, identifiers, each value against its field's rule, and rows
/// given twice. What only the log can tell (is the candidate registered, at which site) is checked when the rows
/// are appended (`Dispatcher.importRecords`).
public struct ImportSheet: Sendable {
    /// A row that passed every check here: what it records, for whom.
    public struct Row: Sendable, Equatable {
        public let number: Int
        /// As the file names it (`register`, `ki67`, …).
        public let kind: String
        public let type: EventType
        public let candidate: String
        /// The `site` cell, if given (a registration's site is also in `fields`).
        public let site: String?
        /// The event's payload: the non-empty cells of the kind's fields, each read as `FieldText` reads it.
        public let fields: JSONValue
    }

    public let rows: [Row]
    public let problems: [ImportProblem]
    /// Data rows in the file (blank lines left out), whether or not they passed.
    public let rowCount: Int
    /// How many rows name each kind, whether or not they passed.
    public let kinds: [String: Int]

    /// Reads `table`'s rows against the current event schema; dates after `today` are refused, as `record` refuses them.
    public init(_ table: CSVTable, today: CivilDate) {
        var problems: [ImportProblem] = []
        let header = table.header.map(Self.trimmed)
        var index: [String: Int] = [:]
        var unknown = 0
        for (i, name) in header.enumerated() {
            if name.isEmpty {
                problems.append(ImportProblem(row: 1, column: "", value: "", expected: "a name for column \(i + 1) (\(Self.columnLetters(i)))"))
            } else if index[name] != nil {
                problems.append(ImportProblem(row: 1, column: name, value: name, expected: "each column once (it is column \(index[name]! + 1) too)"))
            } else if !ImportKind.columns.contains(name) {
                unknown += 1
                // A header of thousands of unknown names is one mistake (the wrong file): list the first ones only.
                if unknown <= ImportProblems.listed {
                    problems.append(ImportProblem(row: 1, column: name, value: name,
                                                  expected: "kind, candidate, site or a field `trialgate record KIND --help` lists (names are exact, lower case)"))
                }
            } else {
                index[name] = i
            }
        }
        if unknown > ImportProblems.listed {
            problems.append(ImportProblem(row: 1, column: "", value: "\(unknown) unknown column names",
                                          expected: "the columns of an import file (the first \(ImportProblems.listed) unknown ones are listed)"))
        }
        for name in ["kind", "candidate"] where index[name] == nil {
            problems.append(ImportProblem(row: 1, column: name, value: "", expected: "a column \(name) (every file has kind and candidate)"))
        }
        var rows: [Row] = []
        var kinds: [String: Int] = [:]
        var seen: [[String]: Int] = [:]
        var missingReported = Set<String>()
        for row in table.rows {
            let cells = row.fields.map(Self.trimmed)
            guard cells.count == header.count else {
                problems.append(ImportProblem(row: row.number, column: "", value: "\(cells.count) fields",
                                              expected: "\(header.count) fields, as the header has (a comma in a value needs the value in double quotes)"))
                continue
            }
            if let first = seen[cells] {
                problems.append(ImportProblem(row: row.number, column: "", value: "the same as row \(first)", expected: "each row once"))
                continue
            }
            seen[cells] = row.number
            guard let k = index["kind"], let c = index["candidate"] else { continue }
            let before = problems.count
            func problem(_ column: String, _ value: String, _ expected: String) {
                problems.append(ImportProblem(row: row.number, column: column, value: value, expected: expected))
            }
            let kind = cells[k], candidate = cells[c]
            if ImportKind.all[kind] != nil { kinds[kind, default: 0] += 1 }
            guard let type = ImportKind.all[kind] else {
                problem("kind", kind, kind == "attestation" ? "a kind of record a coordinator enters: an attestation is the investigator's signed statement (`trialgate attest`)"
                                                            : "one of \(ImportKind.all.keys.sorted().joined(separator: ", "))")
                continue
            }
            if !RecordSchema.isIdentifier(candidate) { problem("candidate", candidate, "a pseudonymous id of 1 to 64 letters, digits, '.', '_' or '-'") }
            let schema = ImportKind.schema(type)
            // A kind's required field with no column at all: said once, on the header, for the first row that needs it.
            // The rows that need it are not imported, and not listed again one by one.
            var columnMissing = false
            for spec in schema.fields where spec.required && index[spec.name] == nil {
                columnMissing = true
                if missingReported.insert("\(kind) \(spec.name)").inserted {
                    problems.append(ImportProblem(row: 1, column: spec.name, value: "",
                                                  expected: "a column \(spec.name): every \(kind) row needs it (\(spec.meaning)); first needed by row \(row.number)"))
                }
            }
            var fields: [String: JSONValue] = [:]
            for (name, i) in index where !ImportKind.fixedColumns.contains(name) || (name == "site" && type == .candidateRegistered) {
                let cell = cells[i]
                guard let spec = schema.fields.first(where: { $0.name == name }) else {
                    if !cell.isEmpty { problem(name, cell, "empty: \(name) is not a field of \(kind) (its fields: \(schema.fields.map(\.name).joined(separator: ", ")))") }
                    continue
                }
                if cell.isEmpty {
                    if spec.required { problem(name, "", "a value: \(name) is required for \(kind) (\(spec.meaning); \(spec.kind.summary))") }
                    continue
                }
                let value = Self.value(cell, spec, registration: type == .candidateRegistered)
                if let why = schema.problem(value, spec, today: today) { problem(name, cell, why) } else { fields[name] = value }
            }
            let site = index["site"].map { cells[$0] }.flatMap { $0.isEmpty ? nil : $0 }
            if let site, type != .candidateRegistered, !RecordSchema.isIdentifier(site) {
                problem("site", site, "a site code of 1 to 64 letters, digits, '.', '_' or '-'")
            }
            if problems.count == before, !columnMissing {
                rows.append(Row(number: row.number, kind: kind, type: type, candidate: candidate, site: site, fields: .object(fields)))
            }
        }
        self.rows = rows
        self.problems = problems.sorted { ($0.row, $0.column) < ($1.row, $1.column) }
        rowCount = table.rows.count
        self.kinds = kinds
    }

    /// A cell as the event holds it: as `FieldText` reads it; a list field also takes `a;b` (how a spreadsheet would
    /// hold the JSON list `["a","b"]`, which it takes too).
    /// A field that holds text takes a cell that reads as a number or a boolean as its text (a study id `12345`, a
    /// model version `2.1`), as `candidate register` takes its site and consent date; wherever `record` accepts the
    /// text, the value is the one it writes.
    static func value(_ cell: String, _ spec: FieldSpec, registration: Bool) -> JSONValue {
        if registration { return .string(cell) }
        let value = FieldText.value(cell)
        switch spec.kind {
        case .choiceList where value.arrayValue == nil:
            return .array(cell.split(separator: ";").map { .string(trimmed(String($0))) })
        case .date, .choice, .sha256, .text, .identifier, .organ:
            if case .number = value { return .string(cell) }
            if case .bool = value { return .string(cell) }
            return value
        default:
            return value
        }
    }

    /// Spaces and tabs around a cell are the spreadsheet's, never the value's.
    static func trimmed(_ s: String) -> String {
        var t = Substring(s)
        while let f = t.first, f == " " || f == "\t" { t = t.dropFirst() }
        while let l = t.last, l == " " || l == "\t" { t = t.dropLast() }
        return String(t)
    }

    /// A spreadsheet's name of column `i` (0 → A, 26 → AA).
    static func columnLetters(_ i: Int) -> String {
        var n = i + 1, s = ""
        while n > 0 {
            n -= 1
            s = String(UnicodeScalar(UInt8(65 + n % 26))) + s
            n /= 26
        }
        return s
    }
}

extension RecordSchema {
    /// Why `value` cannot be field `spec` of this schema's records, or nil if it can: the rule `validate` holds each
    /// field to, worded without the event's name (`must be between 0 and 100, got 140`).
    func problem(_ value: JSONValue, _ spec: FieldSpec, today: CivilDate) -> String? {
        let context = type.rawValue
        do {
            try Self.check(value, spec, context: context, today: today)
            if version >= 3, case .text(let maxLength) = spec.kind, let text = value.stringValue,
               let why = SignedText.problem(text, maxLength: maxLength, multiline: true) {
                return "must be \(why)"
            }
            return nil
        } catch {
            var message = TrialGateError(error).message
            for prefix in ["\(context): \"\(spec.name)\" ", "\(context): "] where message.hasPrefix(prefix) {
                message.removeFirst(prefix.count)
                break
            }
            return message
        }
    }
}
