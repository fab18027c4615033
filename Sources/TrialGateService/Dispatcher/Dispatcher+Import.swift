import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Checks an import file's every row and, unless `dryRun` or a problem was found, appends them all in one
    /// transaction (one checkpoint at its end), followed by a `records.imported` event naming the file and its SHA-256.
    ///
    /// Rows are checked by appending them, each under its own savepoint, exactly as `register` and `record` would
    /// append them: the same payload, the same rules of the log. Registrations go first, then the records, each in
    /// file order, so a record may come before its candidate's registration in the file. A dry run, or a file with a
    /// problem, rolls the transaction back: the log does not move.
    /// - Parameters:
    ///   - site: the site every row's candidate must belong to (nil: any).
    ///   - sites: the caller's sites when they are held to sites (nil: any).
    /// - Throws: `import_refused` listing every problem when a real import finds any.
    func importRecords(file: String, content: [UInt8], site: String?, dryRun: Bool, actor: String, sites: Set<String>?) throws -> ImportReply {
        guard content.count <= Command.maximumImportBytes else {
            throw TrialGateError(.invalidField, "\(file) is \(content.count) bytes; an import file is at most \(Command.maximumImportBytes) bytes (split it)")
        }
        if let why = SignedText.problem(file, maxLength: 255, multiline: false) {
            throw TrialGateError(.invalidField, "the file name must be \(why)")
        }
        var reply = ImportReply(file: file, sha256: Digest.sha256Hex(content), dryRun: dryRun, rows: 0, kinds: [:], problems: [], written: false)
        var problems: [ImportProblem] = []
        // The same bytes twice would record every row twice: a file is imported once.
        if let earlier = try requireStore().events(types: [.recordsImported]).first(where: { $0.payload["sha256"]?.stringValue == reply.sha256 }) {
            problems.append(ImportProblem(row: 0, column: "", value: "sha256 \(reply.sha256)",
                                          expected: "a file not imported before: these bytes were imported as event \(earlier.seq) by \(earlier.actor) at \(earlier.timestamp)"))
        }
        do {
            let sheet = ImportSheet(try CSVTable.read(content), today: clock.now().date)
            reply.rows = sheet.rowCount
            problems += sheet.problems
            reply.kinds = sheet.kinds
            if sheet.rowCount == 0 {
                problems.append(ImportProblem(row: 2, column: "", value: "", expected: "at least one row under the header"))
            }
            let scope = site.map { s in sites.map { $0.intersection([s]) } ?? [s] } ?? sites
            try appendRows(sheet, file: file, sha256: reply.sha256, dryRun: dryRun, actor: actor, scope: scope, problems: &problems, reply: &reply)
        } catch let e as ImportProblems {
            problems += e.problems
        }
        reply.problems = problems.sorted { ($0.row, $0.column) < ($1.row, $1.column) }
        if !dryRun, !reply.problems.isEmpty { throw Self.refusal(file, reply.problems) }
        return reply
    }

    /// Thrown to roll back a dry run's transaction, or a real one that found problems.
    private struct RollBack: Error {}

    /// A row that breaks an access rule of the import, at a column the row names.
    private struct RowProblem: Error {
        let column: String
        let value: String
        let expected: String
    }

    private func appendRows(_ sheet: ImportSheet, file: String, sha256: String, dryRun: Bool, actor: String, scope: Set<String>?,
                            problems: inout [ImportProblem], reply: inout ImportReply) throws {
        let ordered = sheet.rows.filter { $0.type == .candidateRegistered } + sheet.rows.filter { $0.type != .candidateRegistered }
        var found = problems
        var refusedRegistrations: [String: Int] = [:]
        do {
            try inOneTransaction {
                guard let txn = batchTransaction else { throw TrialGateError(.internal, "no transaction for the import") }
                // Under a savepoint of its own: inside a batch (the server's group commit) the transaction is the
                // batch's, and a dry run or a refused file must leave it as it found it.
                let events = try txn.savepoint {
                    let first = txn.head.size + 1
                    for (i, row) in ordered.enumerated() {
                        do {
                            _ = try txn.savepoint { try append(candidate: row.candidate, actor: actor) { state, now in try self.draft(row, state, now, actor, scope) } }
                        } catch {
                            var problem = Self.problem(error, row)
                            if let refused = refusedRegistrations[row.candidate], TrialGateError(error).code == .unknownCandidate {
                                problem = ImportProblem(row: row.number, column: "candidate", value: row.candidate,
                                                        expected: "a registered candidate: \(row.candidate)'s registration, row \(refused), is refused")
                            }
                            if row.type == .candidateRegistered { refusedRegistrations[row.candidate] = row.number }
                            found.append(problem)
                        }
                        if (i + 1) % 256 == 0 || i + 1 == ordered.count { progress?(Int64(i + 1), Int64(ordered.count)) }
                    }
                    if dryRun || !found.isEmpty { throw RollBack() }
                    let receipt = RecordsImported(file: file, sha256: sha256, rows: sheet.rowCount, firstSeq: first, lastSeq: txn.head.size)
                    return (receipt, try append(candidate: nil, actor: actor) { state, now in
                        try requireTrial(state)
                        return [EventDraft(timestamp: now, actor: actor, type: .recordsImported, candidate: nil, payload: receipt.payload)]
                    })
                }
                (reply.firstSeq, reply.lastSeq, reply.seq, reply.hash) = (events.0.firstSeq, events.0.lastSeq, events.1[0].seq, events.1[0].hash)
            }
            reply.written = true
        } catch is RollBack {
            // What the rolled-back rows left in the writer's caches is not the log.
            dropCaches()
            reply.written = false
        }
        problems = found
    }

    /// A row's event, as `register` or `record` would draft it, once the row's candidate is within `scope`.
    private func draft(_ row: ImportSheet.Row, _ state: LogState, _ now: UTCTimestamp, _ actor: String, _ scope: Set<String>?) throws -> [EventDraft] {
        try requireTrial(state)
        let allowed = scope.map { $0.sorted().joined(separator: ", ") } ?? ""
        if row.type == .candidateRegistered {
            let site = row.fields["site"]?.stringValue ?? ""
            if let scope, !scope.contains(site) {
                throw RowProblem(column: "site", value: site, expected: "a site of this import (\(allowed)): the file may register candidates there only")
            }
        } else if let candidate = state.candidates[row.candidate] {
            if let scope, !scope.contains(candidate.site) {
                throw RowProblem(column: "candidate", value: row.candidate,
                                 expected: "a candidate of \(allowed); \(row.candidate) is registered at \(candidate.site)")
            }
            if let given = row.site, given != candidate.site {
                throw RowProblem(column: "site", value: given, expected: "\(candidate.site), the site \(row.candidate) is registered at (or empty)")
            }
            // The file's SHA-256 stops the same bytes twice; this stops the same rows in other bytes (the file saved
            // again with other line ends, a byte order mark, another column order), which would record each twice.
            if let same = candidate.records.first(where: { $0.type == row.type && $0.original == row.fields }) {
                throw RowProblem(column: "", value: row.kind, expected: "a record not in the log yet: \(row.candidate) has this same \(row.kind) record as event "
                                 + "\(same.seq) (by \(same.actor) at \(same.timestamp)); was this file imported before?")
            }
        }
        return [EventDraft(timestamp: now, actor: actor, type: row.type, candidate: row.candidate, payload: row.fields)]
    }

    /// What went wrong with a row's event, at the column it names: a field the message quotes, else the candidate.
    static func problem(_ error: any Error, _ row: ImportSheet.Row) -> ImportProblem {
        if let p = error as? RowProblem { return ImportProblem(row: row.number, column: p.column, value: p.value, expected: p.expected) }
        let e = TrialGateError(error)
        var message = e.message
        let prefix = "\(row.type.rawValue): "
        if message.hasPrefix(prefix) { message.removeFirst(prefix.count) }
        let fields = row.fields.objectValue ?? [:]
        let names = fields.keys.sorted() + (RecordSchema.of(row.type, version: Event.currentSchemaVersion)?.fields.map(\.name) ?? [])
        if let name = names.first(where: { message.contains("\"\($0)\"") }) {
            let cell = fields[name].map { $0.stringValue ?? CanonicalJSON.string($0) } ?? ""
            return ImportProblem(row: row.number, column: name, value: cell, expected: message)
        }
        switch e.code {
        case .unknownCandidate:
            return ImportProblem(row: row.number, column: "candidate", value: row.candidate,
                                 expected: "a candidate registered in the log or by a register row of this file")
        case .duplicateCandidate, .candidateWithdrawn, .invalidField:
            return ImportProblem(row: row.number, column: "candidate", value: row.candidate, expected: message)
        default:
            return ImportProblem(row: row.number, column: "", value: row.kind, expected: "\(e.code.rawValue): \(message)")
        }
    }

    /// The error of a real import that found problems: each on a line, by row and column.
    static func refusal(_ file: String, _ problems: [ImportProblem]) -> TrialGateError {
        let shown = problems.prefix(200).map(\.line)
        let more = problems.count > shown.count ? "\n… and \(problems.count - shown.count) more (`trialgate import --dry-run` lists them all)" : ""
        return TrialGateError(.importRefused, "\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s"); nothing was written:\n"
            + shown.joined(separator: "\n") + more)
    }
}
