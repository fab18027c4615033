import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Reads the whole log through a `LogAuditor`, also checking that the query columns match each body.
    ///
    /// Rows are read in chunks; each chunk is parsed, hashed and checked for canonical form on all cores
    /// while the previous one is folded in order on this thread.
    /// With `rootAt`, also keeps the recomputed root at that size. `checkpointSignatures`: which stored checkpoints'
    /// signatures to verify (every checkpoint's root is checked).
    func audit(rootAt requestedSize: Int64? = nil, checkpointSignatures: LogAuditor.CheckpointSignatures = .newest) throws -> AuditReport {
        let store = try requireStore()
        let structural = try store.structuralProblems()
        let chunkSize: Int64 = 4096
        let size = try store.head().size
        func readChunk(_ from: Int64) throws -> [StoredRow] {
            var rows: [StoredRow] = []
            try store.forEachRow(from: from, through: from + chunkSize - 1) { rows.append($0) }
            return rows
        }
        // Stored checkpoints are checked as the fold reaches their size; report snapshots are compared with the
        // fold at theirs.
        var pass = AuditPass(checkpoints: try store.checkpoints()[...], snapshotSizes: try Self.checkedSnapshotSizes(store),
                             requestedSize: requestedSize)
        pass.auditor.checkpointSignatures = checkpointSignatures
        var next: Int64 = 1
        var prepared = AuditChunk(rows: try readChunk(next), parallel: parallelFolds)
        next += chunkSize
        prepared.start()
        while true {
            let current = prepared
            let done = current.wait()
            var upcoming: AuditChunk?
            if next <= size {
                upcoming = AuditChunk(rows: try readChunk(next), parallel: parallelFolds)
                next += chunkSize
                upcoming?.start()
            }
            for (row, item) in zip(current.rows, done) { pass.take(row, item) }
            if let last = current.rows.last { progress?(last.seq, size) }
            guard let u = upcoming else { break }
            prepared = u
        }
        finish(&pass, store: store)
        let problems = (pass.auditor.problems + pass.columnProblems).sorted { $0.seq < $1.seq }
        return AuditReport(auditor: pass.auditor, problems: problems, structural: structural, head: try store.head(),
                           rootAtRequested: pass.rootAtRequested, reportSnapshotsChecked: pass.projected.count)
    }

    /// The sizes of the saved report snapshots the audit compares with the fold, smallest first.
    private static func checkedSnapshotSizes(_ store: EventStore) throws -> ArraySlice<Int64> {
        // Snapshots an earlier release saved (an older format) are derived data this build cannot read: not checked.
        try store.reportSnapshotSizes().sorted().filter { size in
            guard let saved = try store.reportSnapshot(size: size), let statement = try? JSONParser.parse(saved.statement),
                  let format = statement["format"]?.stringValue else { return true }
            return !ReportSnapshot.olderFormats.contains(format)
        }[...]
    }

    /// Ends the fold, and adds what only the whole log shows: report snapshots that differ from the fold, snapshots
    /// and checkpoints beyond the log, and a stored tree that does not match the recomputed one.
    private func finish(_ pass: inout AuditPass, store: EventStore) {
        pass.auditor.finish()
        pass.columnProblems += checkReportSnapshots(pass.projected, badSignatures: Set(pass.auditor.problems.filter { $0.code == "bad_signature" }.map(\.seq)))
        for n in pass.snapshotSizes {
            pass.columnProblems.append(AuditProblem(seq: n, code: "report_snapshot", message: "report snapshot \(n) is of events the log does not have"))
        }
        for c in pass.checkpoints {
            pass.columnProblems.append(AuditProblem(seq: c.size, code: "checkpoint_beyond_log", message: "a checkpoint of size \(c.size) was issued but the log has \(pass.auditor.tree.size) events: the tail was cut off"))
        }
        // The stored tree, which proofs are made from, must match the one recomputed from the events.
        if pass.auditor.tree.size > 0, store.maintainsMerkleTree {
            let storedRoot = try? store.merkleRoot(size: pass.auditor.tree.size)
            if storedRoot != pass.auditor.tree.root {
                pass.columnProblems.append(AuditProblem(seq: pass.auditor.tree.size, code: "tree_mismatch", message: "the stored Merkle tree does not match the events"))
            }
        }
    }

    /// Each saved report snapshot must check out (signature, trial, position, state digest) and hold exactly the
    /// report state of the log folded up to its size, with the signature verdicts the audit found.
    func checkReportSnapshots(_ projected: [(size: Int64, state: ReportState)], badSignatures: Set<Int64>) -> [AuditProblem] {
        projected.compactMap { size, state in
            do {
                let saved = try loadReportSnapshot(size: size)
                var expected = state.candidates
                for (id, c) in expected {
                    guard let latest = c.latest, case .pending = latest.verdict else { continue }
                    expected[id]!.latest!.verdict = badSignatures.contains(latest.seq) ? .invalid : .valid
                }
                guard saved.candidates == expected else {
                    let differing = expected.keys.filter { saved.candidates[$0] != expected[$0] }.sorted().prefix(3)
                        + saved.candidates.keys.filter { expected[$0] == nil }.sorted().prefix(3)
                    return AuditProblem(seq: size, code: "report_snapshot",
                                        message: "report snapshot \(size) is not the fold of the log's first \(size) events (candidates \(differing.joined(separator: ", ")))")
                }
                return nil
            } catch {
                let e = TrialGateError(error)
                if e.code == .snapshotOlderFormat { return nil }
                return AuditProblem(seq: size, code: "report_snapshot", message: e.message)
            }
        }
    }
}

/// The fold of an audit, row by row: the auditor, the problems it does not see itself (unreadable rows, columns
/// that disagree with the body), and the checkpoints and report snapshots not reached yet.
private struct AuditPass {
    var auditor = LogAuditor()
    var columnProblems: [AuditProblem] = []
    var checkpoints: ArraySlice<EventStore.StoredCheckpoint>
    var snapshotSizes: ArraySlice<Int64>
    var projected: [(size: Int64, state: ReportState)] = []
    let requestedSize: Int64?
    var rootAtRequested: [UInt8]?

    init(checkpoints: ArraySlice<EventStore.StoredCheckpoint>, snapshotSizes: ArraySlice<Int64>, requestedSize: Int64?) {
        self.checkpoints = checkpoints
        self.snapshotSizes = snapshotSizes
        self.requestedSize = requestedSize
        self.rootAtRequested = requestedSize == 0 ? Merkle.emptyRoot : nil
    }

    /// Folds one prepared row, checking its columns and any checkpoint or report snapshot at the size it reaches.
    mutating func take(_ row: StoredRow, _ item: Result<LogAuditor.Prepared, TrialGateError>) {
        switch item {
        case .failure(let error):
            columnProblems.append(AuditProblem(seq: row.seq, code: "unreadable", message: error.message))
        case .success(let p):
            let event = p.event
            // Every column a read goes by must say what the hashed body says: reads by candidate use
            // `registration_seq`, which must name the candidate's own registration.
            let registration = event.type == .candidateRegistered ? event.seq
                : event.candidate.flatMap { auditor.state.candidates[$0]?.registeredSeq }
            if event.seq != row.seq || event.timestamp.description != row.timestamp || event.actor != row.actor
                || event.type.rawValue != row.type || event.candidate != row.candidate || event.prevHash != row.prevHash
                || registration != row.registrationSeq {
                columnProblems.append(AuditProblem(seq: row.seq, code: "column_mismatch", message: "the table's columns disagree with the hashed body"))
            }
            auditor.feed(p)
            if auditor.tree.size == requestedSize { rootAtRequested = auditor.tree.root }
            while let n = snapshotSizes.first, n <= auditor.state.size {
                if n == auditor.state.size { projected.append((n, ReportState(projecting: auditor.state, signatures: .checkedElsewhere))) }
                snapshotSizes.removeFirst()
            }
            while let c = checkpoints.first, c.size <= auditor.tree.size {
                if c.size == auditor.tree.size { auditor.checkCheckpoint(c.note) }
                checkpoints.removeFirst()
            }
        }
    }
}
