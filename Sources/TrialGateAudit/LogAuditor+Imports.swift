import TrialGateCore

/// The check of an import's receipt against the events it names, which the fold cannot make (it keeps no events).
extension LogAuditor {
    /// Keeps `importRun` up to date. An import appends each row as `register` or `record` would, so its range holds
    /// registrations, records (the kinds a row can be) and the stale-decision queries a record opens, all by the
    /// importer: such an event by the run's actor continues the run, one by another actor starts a new run, any
    /// other event ends it.
    mutating func followImportRun(_ event: Event) {
        let row = ImportKind.all.values.contains(event.type)
        let staleQuery = event.type == .queryOpened && event.payload["about"]?.stringValue == "stale_decision"
        guard event.candidate != nil, row || staleQuery else {
            importRun = nil
            return
        }
        if importRun?.actor != event.actor { importRun = (event.seq, event.actor, []) }
        if row { importRun!.rows.append(event.seq) }
    }

    /// A `records.imported` receipt (`trialgate import`): each row of the file became one registration or record,
    /// appended by the importer in the same commit right before the receipt, with nothing but the queries those
    /// records opened between them. So its `first_seq` … `last_seq` must be such events by the receipt's own actor,
    /// `rows` of them registrations and records, and a file (its SHA-256) is imported once. A receipt that claims
    /// other events (the trial's own, decisions, another user's records, another import) or another number of rows
    /// lies about where the log's content came from.
    mutating func checkImportReceipt(_ event: Event) {
        guard let p = try? RecordsImported(payloadOf: event) else { return }  // the fold reports its shape
        if let earlier = importedFiles[p.sha256] {
            report(event.seq, "import_receipt", "the file with SHA-256 \(p.sha256.prefix(16))… was already imported as event \(earlier); the writer imports a file once")
        } else {
            importedFiles[p.sha256] = event.seq
        }
        guard p.lastSeq == event.seq - 1 else { return }  // the fold reports a range that does not end right before it
        guard let run = importRun, run.actor == event.actor, p.firstSeq >= run.from else {
            report(event.seq, "import_receipt", "events \(p.firstSeq)…\(p.lastSeq) must all be registrations or records by \(event.actor), "
                   + "the importer (and the queries they opened), with nothing else between them and the receipt")
            return
        }
        let rows = run.rows.reversed().prefix { $0 >= p.firstSeq }.count
        if rows != p.rows {
            report(event.seq, "import_receipt", "rows \(p.rows) but events \(p.firstSeq)…\(p.lastSeq) hold \(rows) registrations and records; each row of an import is one")
        }
    }
}
