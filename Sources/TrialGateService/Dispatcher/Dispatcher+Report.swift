import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// The report state at `last` and where its fold began: from the newest report snapshot at or before `last`
    /// that checks out (`snapshot` is its size), otherwise from the first event (`snapshot` nil).
    /// `ignored` lists the newer snapshots that did not check out, and why.
    func reportState(through last: Int64) throws -> (state: ReportState, snapshot: Int64?, ignored: [TrialGateError]) {
        let store = try requireStore()
        var state = ReportState()
        var snapshot: Int64?
        var ignored: [TrialGateError] = []
        for size in try store.reportSnapshotSizes() where size <= last {
            do {
                state = try loadReportSnapshot(size: size)
                snapshot = size
                break
            } catch {
                ignored.append(TrialGateError(error))
            }
        }
        var lookups: [Int64: EventType] = [:]
        var told = state.size
        try forEachEvent(from: state.size + 1, through: last, read: { from, through, body in
            try store.forEachRow(from: from, through: through, typesAndCorrected: ReportState.eventTypes, body)
        }) { event in
            try state.apply(event) { seq in
                if let known = lookups[seq] { return known }
                let type = try store.event(seq: seq)?.type
                lookups[seq] = type
                return type
            }
            if event.seq - told >= 4096, let progress {
                told = event.seq
                progress(event.seq, last)
            }
            return true
        }
        state.size = last
        state.headHash = last == 0 ? Event.genesisHash : try store.hash(seq: last) ?? ""
        return (state, snapshot, ignored)
    }

    /// The snapshot of `size`, checked: its statement is signed by the key in force at `size` or a later one of
    /// the log's own key history, names this trial, this log position and the hash of the event there, and the
    /// SHA-256 of the saved state. The trial and keys come from the log, not from the snapshot.
    func loadReportSnapshot(size: Int64) throws -> ReportState {
        let store = try requireStore()
        func bad(_ why: String) -> TrialGateError { TrialGateError(.badSnapshot, "report snapshot \(size): \(why)") }
        guard let saved = try store.reportSnapshot(size: size) else { throw bad("not saved") }
        let statement: JSONValue
        do { statement = try JSONParser.parse(saved.statement) } catch { throw bad("statement is not JSON") }
        var keys = ReportState()
        for e in try store.events(types: [.trialInitialised, .keyRotated, .policyPublished]) where e.type != .policyPublished || e.seq <= size {
            try keys.apply(e) { _ in nil }
        }
        let inForce = keys.keys.lastIndex { $0.seq <= size } ?? 0
        guard let format = statement["format"]?.stringValue, format == ReportSnapshot.format else {
            // Saved by an earlier release: derived data a newer fold cannot read, neither used nor an integrity problem.
            if let format = statement["format"]?.stringValue, ReportSnapshot.olderFormats.contains(format) {
                throw TrialGateError(.snapshotOlderFormat, "report snapshot \(size) is of an earlier format (\(format)); reports fold past it")
            }
            throw bad("unknown format")
        }
        guard let trialID = keys.trialID, statement["trial_id"]?.stringValue == trialID else { throw bad("names another trial") }
        guard statement["log"]?["size"]?.intValue == Int(size), saved.size == size, let head = try store.hash(seq: size),
              statement["log"]?["head"]?.stringValue == head, saved.head == head
        else { throw bad("does not name this log's event \(size) and its hash") }
        guard statement["state_sha256"]?.stringValue == Digest.sha256Hex(saved.state) else { throw bad("the state is not the one signed") }
        guard let keyIndex = keys.keys.firstIndex(where: { $0.keyID == statement["key_id"]?.stringValue }), keyIndex >= inForce,
              let publicKey = Data(base64Encoded: keys.keys[keyIndex].publicKey).map(Array.init),
              let signature = Data(base64Encoded: saved.signature).map(Array.init),
              SignatureCheck.verify(signature: signature, message: Array(saved.statement.utf8), publicKey: publicKey)
        else { throw bad("not signed by a key of this log in force at \(size) or later") }
        var state = ReportState()
        do { state.candidates = try ReportSnapshot.decode(saved.state) } catch { throw bad("\(error)") }
        state.trialID = trialID
        state.keys = keys.keys.filter { $0.seq <= size }
        state.policies = keys.policies
        state.size = size
        state.headHash = head
        return state
    }

    /// Folds the report state up to the log's head (on from the newest snapshot), checks every signature it
    /// shows, signs it with the trial key and saves it, so later reports fold on from here.
    func saveReportSnapshot() throws -> ReportSnapshotReply {
        let store = try requireStore()
        let key = try key()
        let head = try store.head()
        guard head.size >= 1 else { throw TrialGateError(.emptyLog, "the log has no events to snapshot") }
        var (state, from, ignored) = try reportState(through: head.size)
        state.checkSignatures()
        guard let trialID = state.trialID else { throw TrialGateError(.notInitialised, "the store has no trial yet; run `trialgate init`") }
        try Self.requireKeyInForce(key, try Self.baseState(store, head: head))
        if let warning = try headWarning() {
            throw TrialGateError(.logUncovered, warning)
        }
        let encoded = ReportSnapshot.encode(state)
        let madeAt = clock.now()
        let statement = CanonicalJSON.encode(ReportSnapshot.statement(
            trialID: trialID, size: head.size, head: head.hash, stateSHA256: Digest.sha256Hex(encoded), keyID: key.keyID, madeAt: madeAt))
        let signature = Data(key.sign(statement)).base64EncodedString()
        try store.saveReportSnapshot(.init(size: head.size, head: head.hash, madeAt: madeAt.description, state: encoded,
                                           statement: String(decoding: statement, as: UTF8.self), signature: signature))
        return ReportSnapshotReply(size: head.size, head: head.hash, candidates: state.candidates.count, bytes: encoded.count, foldedFrom: from,
                                   statement: String(decoding: statement, as: UTF8.self), signature: signature,
                                   kept: try store.reportSnapshotSizes(), ignored: ignored.map(\.message))
    }

    /// The report in `format`: `json` (a `ReportReply`), `csv` (its screening log) or `html` (one page).
    func report(asOfSeq: Int64?, asOfTime: UTCTimestamp?, filter: ScreeningReport.Filter, format: String) throws -> any ReplyView {
        let store = try requireStore()
        var last = min(asOfSeq ?? .max, try store.head().size)
        if let asOfTime { last = min(last, try store.size(at: asOfTime)) }
        var report = ScreeningReport.build(try reportState(through: last).state, filter: filter,
                                           asOf: .init(seq: asOfSeq, time: asOfTime?.description),
                                           agesAt: try store.event(seq: last)?.timestamp)
        report.logWarning = try logWarning(through: last)
        report.checkpoint = try reportCheckpoint(through: last)
        switch format {
        case "html": return ReportHTMLReply(html: ReportHTML.render(report))
        case "csv":
            // Users' texts (a withdrawal's reason, a printed name, what made a decision stale) reach whoever opens
            // the file in a spreadsheet: neutralised as the audit CSV's are (`SpreadsheetCell`).
            let rows = Self.screeningLogRows(report.screeningLog).map { $0.map(SpreadsheetCell.neutralised) }
            return ReportCSVReply(csv: ScreeningReport.csv(rows), logWarning: report.logWarning)
        default: return report
        }
    }

    /// The screening log as CSV rows, with its header.
    static func screeningLogRows(_ log: [ScreeningLogRow]) -> [[String]] {
        let columns = ["candidate", "site", "registered_at", "consent_date", "status", "decision_seq", "decided_at", "policy", "failed", "unknown",
                       "needs_attestation", "signature", "withdrawal_category", "withdrawal_reason", "proposed", "standing", "stale_causes", "confirmed", "signed_off_by",
                       "signed_off_at", "signed_off_meaning", "signed_off_reason", "open_queries"]
        return [columns] + log.map { r in
            let consent: String
            switch r.consentDate {
            case .string(let s): consent = s
            case .number: consent = r.consentDate.intValue.map(String.init) ?? CanonicalJSON.string(r.consentDate)
            case .array(let a): consent = a.compactMap(\.stringValue).joined(separator: ";")
            default: consent = ""
            }
            return [r.candidate, r.site, r.registeredAt, consent, r.status, r.decisionSeq.map(String.init) ?? "", r.decidedAt ?? "", r.policy ?? "",
                    r.failed.joined(separator: ";"), r.unknown.joined(separator: ";"), r.needsAttestation.joined(separator: ";"), r.signature,
                    r.withdrawalCategory ?? "", r.withdrawalReason ?? "", r.proposed ?? "", r.standing ?? "",
                    r.staleCauses.map { "event \($0.seq): \($0.detail)" }.joined(separator: ";"), r.confirmed ?? "",
                    r.signoff?.printedName ?? "", r.signoff?.at ?? "", r.signoff?.meaning ?? "", r.signoff?.reason ?? "", String(r.openQueries)]
        }
    }
}
