import CSQLite
import TrialGateCore

extension SQLiteLogDatabase {
    private static let rowColumns = "seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq"

    /// Built once: the statement cache is keyed by the SQL text.
    static let insertEventSQL = "INSERT INTO events (seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq) "
        + "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?4 = 'candidate.registered' THEN ?1 ELSE (\(registrationOf("?5"))) END)"

    private static func row(_ s: OpaquePointer) -> StoredRow {
        StoredRow(seq: sqlite3_column_int64(s, 0), timestamp: SQLiteConnection.text(s, 1) ?? "", actor: SQLiteConnection.text(s, 2) ?? "",
                  type: SQLiteConnection.text(s, 3) ?? "", candidate: SQLiteConnection.text(s, 4),
                  prevHash: SQLiteConnection.text(s, 5) ?? "", hash: SQLiteConnection.text(s, 6) ?? "",
                  body: SQLiteConnection.bytes(s, 7),
                  registrationSeq: sqlite3_column_type(s, 8) == SQLITE_NULL ? nil : sqlite3_column_int64(s, 8))
    }

    /// SQL for the seq of the registration of the candidate named by the parameter `candidate` (a unique index).
    static func registrationOf(_ candidate: String) -> String {
        "SELECT seq FROM events WHERE type = 'candidate.registered' AND candidate = \(candidate)"
    }

    /// The `WHERE` clause of events about one candidate: the candidate id is looked up once, then its events
    /// are one range of the `registration_seq` index.
    private static let aboutCandidate = "registration_seq = (\(registrationOf("?")))"

    private static func typeList(_ types: [EventType]) -> String { types.map { "'\($0.rawValue)'" }.joined(separator: ",") }

    public func head() throws -> LogHead {
        var head = LogHead(size: 0, hash: Event.genesisHash)
        try db.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], "reading the log head") { s in
            head = LogHead(size: sqlite3_column_int64(s, 0), hash: SQLiteConnection.text(s, 1) ?? "")
        }
        return head
    }

    public func insertEvent(_ event: Event, body: [UInt8]) throws {
        try db.run(Self.insertEventSQL,
            [.int(event.seq), .text(event.timestamp.description), .text(event.actor), .text(event.type.rawValue),
             event.candidate.map { .text($0) } ?? .null, .text(event.prevHash), .text(event.hash), .utf8(body)],
            "appending event \(event.seq)")
    }

    public func forEachRow(from: Int64, through: Int64, _ body: (StoredRow) throws -> Void) throws {
        try db.query("SELECT \(Self.rowColumns) FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq", [.int(from), .int(through)],
                     "reading events") { s in try body(Self.row(s)) }
    }

    public func forEachRow(from: Int64, through: Int64, typesAndCorrected types: [EventType], _ body: (StoredRow) throws -> Void) throws {
        try db.query(Self.rowsSQL(typesAndCorrected: types), [.int(from), .int(through)], "reading events by type") { s in
            try body(Self.row(s))
        }
    }

    /// The query of `forEachRow(from:through:typesAndCorrected:)`, with the range as `?1` and `?2`. `+type`
    /// keeps SQLite from answering the OR with the type index, which ignores the range: every call would read
    /// every event of those types in the log, a quadratic fold.
    static func rowsSQL(typesAndCorrected types: [EventType]) -> String {
        "SELECT \(rowColumns) FROM events WHERE seq BETWEEN ?1 AND ?2 AND (+type IN (\(typeList(types)))"
            + " OR seq IN (SELECT json_extract(body, '$.payload.corrects') FROM events WHERE type = 'entry.corrected' AND seq <= ?2))"
            + " ORDER BY seq"
    }

    public func forEachRow(candidate: String, types: [EventType]?, _ body: (StoredRow) throws -> Void) throws {
        let filter = types.map { " AND type IN (\(Self.typeList($0)))" } ?? ""
        try db.query("SELECT \(Self.rowColumns) FROM events WHERE \(Self.aboutCandidate)\(filter) ORDER BY seq", [.text(candidate)],
                     "reading a candidate's events") { s in try body(Self.row(s)) }
    }

    public func forEachRow(types: [EventType], after: Int64, _ body: (StoredRow) throws -> Bool) throws {
        try db.queryWhile("SELECT \(Self.rowColumns) FROM events WHERE type IN (\(Self.typeList(types))) AND seq > ? ORDER BY seq", [.int(after)],
                          "reading events by type") { s in try body(Self.row(s)) }
    }

    public func firstSeq(after timestamp: String) throws -> Int64? {
        var later: Int64?
        try db.query("SELECT min(seq) FROM events WHERE ts > ?", [.text(timestamp)], "finding the log size at a time") { s in
            if sqlite3_column_type(s, 0) != SQLITE_NULL { later = sqlite3_column_int64(s, 0) }
        }
        return later
    }

    public func hash(seq: Int64) throws -> String? {
        var hash: String?
        try db.query("SELECT hash FROM events WHERE seq = ?", [.int(seq)], "reading an event's hash") { s in hash = SQLiteConnection.text(s, 0) }
        return hash
    }

    public func newestEvent(registrationSeq: Int64) throws -> (seq: Int64, hash: String, policySeq: Int64)? {
        var newest: (Int64, String, Int64)?
        try db.query(Self.newestOfRegistration, [.int(registrationSeq)], "reading a candidate's newest event") { s in
            newest = (sqlite3_column_int64(s, 0), SQLiteConnection.text(s, 1) ?? "", sqlite3_column_int64(s, 2))
        }
        return newest
    }
    private static let newestOfRegistration = "SELECT seq, hash, (SELECT coalesce(max(seq), 0) FROM events WHERE type = 'policy.published') "
        + "FROM events WHERE registration_seq = ? ORDER BY seq DESC LIMIT 1"

    public func newestSeq(types: [EventType]) throws -> Int64 {
        try db.scalarInt("SELECT coalesce(max(seq), 0) FROM events WHERE type IN (\(Self.typeList(types)))", "finding the newest event of a type") ?? 0
    }

    // MARK: The Merkle tree and checkpoints

    public func insertNode(level: Int, index: Int64, hash: [UInt8]) throws {
        try db.run("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", [.int(Int64(level)), .int(index), .blob(hash)],
                   "extending the Merkle tree")
    }

    public func storedNode(level: Int, index: Int64) throws -> [UInt8]? {
        var out: [UInt8]?
        try db.query("SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", [.int(Int64(level)), .int(index)],
                     "reading the Merkle tree") { s in out = SQLiteConnection.blob(s, 0) }
        return out
    }

    public func insertCheckpoint(size: Int64, issuedAt: String, note: String) throws {
        try db.run("INSERT INTO checkpoints (size, issued_at, note) VALUES (?, ?, ?)", [.int(size), .text(issuedAt), .text(note)],
                   "storing the checkpoint of size \(size)")
    }

    public func checkpoints(from: Int64, through: Int64) throws -> [EventStore.StoredCheckpoint] {
        var out: [EventStore.StoredCheckpoint] = []
        try db.query("SELECT size, issued_at, note FROM checkpoints WHERE size BETWEEN ? AND ? ORDER BY size", [.int(from), .int(through)],
                     "reading checkpoints") { s in out.append(Self.checkpointRow(s)) }
        return out
    }

    public func checkpointAtOrBefore(size: Int64) throws -> EventStore.StoredCheckpoint? {
        var out: EventStore.StoredCheckpoint?
        try db.query("SELECT size, issued_at, note FROM checkpoints WHERE size <= ? ORDER BY size DESC LIMIT 1", [.int(size)],
                     "reading a checkpoint") { s in out = Self.checkpointRow(s) }
        return out
    }

    public func checkpointCount() throws -> Int64 { try db.scalarInt("SELECT count(*) FROM checkpoints", "counting checkpoints") ?? 0 }

    private static func checkpointRow(_ s: OpaquePointer) -> EventStore.StoredCheckpoint {
        EventStore.StoredCheckpoint(size: sqlite3_column_int64(s, 0), issuedAt: SQLiteConnection.text(s, 1) ?? "", note: SQLiteConnection.text(s, 2) ?? "")
    }

    // MARK: Report snapshots

    public func replaceReportSnapshot(_ snapshot: EventStore.StoredReportSnapshot, keep: Int) throws {
        try db.run("DELETE FROM report_snapshots WHERE size = ?", [.int(snapshot.size)], "replacing the report snapshot of size \(snapshot.size)")
        try db.run("INSERT INTO report_snapshots (size, head, made_at, state, statement, signature) VALUES (?, ?, ?, ?, ?, ?)",
                   [.int(snapshot.size), .text(snapshot.head), .text(snapshot.madeAt), .blob(snapshot.state), .text(snapshot.statement),
                    .text(snapshot.signature)], "saving the report snapshot of size \(snapshot.size)")
        try db.run("DELETE FROM report_snapshots WHERE size NOT IN (SELECT size FROM report_snapshots ORDER BY size DESC LIMIT ?)",
                   [.int(Int64(keep))], "deleting old report snapshots")
    }

    public func reportSnapshotSizes() throws -> [Int64] {
        var sizes: [Int64] = []
        try db.query("SELECT size FROM report_snapshots ORDER BY size DESC", [], "listing report snapshots") { s in
            sizes.append(sqlite3_column_int64(s, 0))
        }
        return sizes
    }

    public func reportSnapshot(size: Int64) throws -> EventStore.StoredReportSnapshot? {
        var out: EventStore.StoredReportSnapshot?
        try db.query("SELECT size, head, made_at, state, statement, signature FROM report_snapshots WHERE size = ?", [.int(size)],
                     "reading the report snapshot of size \(size)") { s in
            out = EventStore.StoredReportSnapshot(size: sqlite3_column_int64(s, 0), head: SQLiteConnection.text(s, 1) ?? "",
                                                  madeAt: SQLiteConnection.text(s, 2) ?? "", state: SQLiteConnection.blob(s, 3),
                                                  statement: SQLiteConnection.text(s, 4) ?? "", signature: SQLiteConnection.text(s, 5) ?? "")
        }
        return out
    }

    // MARK: Witnesses

    public func hasCosignature(size: Int64, witness: String, line: String) throws -> Bool {
        var known = false
        try db.query("SELECT 1 FROM cosignatures WHERE size = ? AND witness = ? AND line = ?", [.int(size), .text(witness), .text(line)],
                     "reading cosignatures") { _ in known = true }
        return known
    }

    public func insertCosignature(size: Int64, witness: String, line: String, receivedAt: String) throws {
        try db.run("INSERT INTO cosignatures (size, witness, line, received_at) VALUES (?, ?, ?, ?)",
                   [.int(size), .text(witness), .text(line), .text(receivedAt)], "storing the cosignature of \(witness) for size \(size)")
    }

    public func cosignatures(size: Int64) throws -> [EventStore.StoredCosignature] {
        var out: [EventStore.StoredCosignature] = []
        try db.query("""
            SELECT size, witness, line, received_at FROM cosignatures
            WHERE id IN (SELECT max(id) FROM cosignatures WHERE size = ? GROUP BY witness) ORDER BY witness
            """, [.int(size)], "reading cosignatures") { s in
            out.append(EventStore.StoredCosignature(size: sqlite3_column_int64(s, 0), witness: SQLiteConnection.text(s, 1) ?? "",
                                                    line: SQLiteConnection.text(s, 2) ?? "", receivedAt: SQLiteConnection.text(s, 3) ?? ""))
        }
        return out
    }

    public func allCosignatures() throws -> [EventStore.StoredCosignature] {
        var out: [EventStore.StoredCosignature] = []
        try db.query("SELECT size, witness, line, received_at FROM cosignatures ORDER BY id", [], "reading cosignatures") { s in
            out.append(EventStore.StoredCosignature(size: sqlite3_column_int64(s, 0), witness: SQLiteConnection.text(s, 1) ?? "",
                                                    line: SQLiteConnection.text(s, 2) ?? "", receivedAt: SQLiteConnection.text(s, 3) ?? ""))
        }
        return out
    }

    public func cosignedSizes() throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        try db.query("SELECT witness, max(size) FROM cosignatures GROUP BY witness", [], "reading cosignatures") { s in
            out[SQLiteConnection.text(s, 0) ?? ""] = sqlite3_column_int64(s, 1)
        }
        return out
    }

    private static let refusalColumns = "size, witness, status, answer, received_at"

    private static func refusalRow(_ s: OpaquePointer) -> EventStore.StoredWitnessRefusal {
        EventStore.StoredWitnessRefusal(size: sqlite3_column_int64(s, 0), witness: SQLiteConnection.text(s, 1) ?? "", status: Int(sqlite3_column_int64(s, 2)),
                                        answer: SQLiteConnection.text(s, 3) ?? "", receivedAt: SQLiteConnection.text(s, 4) ?? "")
    }

    public func newestRefusal(witness: String) throws -> EventStore.StoredWitnessRefusal? {
        var out: EventStore.StoredWitnessRefusal?
        try db.query("SELECT \(Self.refusalColumns) FROM witness_refusals WHERE witness = ? ORDER BY id DESC LIMIT 1", [.text(witness)],
                     "reading witness refusals") { s in out = Self.refusalRow(s) }
        return out
    }

    public func insertRefusal(_ r: EventStore.StoredWitnessRefusal) throws {
        try db.run("INSERT INTO witness_refusals (size, witness, status, answer, received_at) VALUES (?, ?, ?, ?, ?)",
                   [.int(r.size), .text(r.witness), .int(Int64(r.status)), .text(r.answer), .text(r.receivedAt)],
                   "storing the refusal of \(r.witness) for size \(r.size)")
    }

    public func refusals(size: Int64?) throws -> [EventStore.StoredWitnessRefusal] {
        var out: [EventStore.StoredWitnessRefusal] = []
        let (sql, args): (String, [SQLiteValue]) = size.map { ("SELECT \(Self.refusalColumns) FROM witness_refusals WHERE size = ? ORDER BY id", [.int($0)]) }
            ?? ("SELECT \(Self.refusalColumns) FROM witness_refusals ORDER BY id", [])
        try db.query(sql, args, "reading witness refusals") { s in out.append(Self.refusalRow(s)) }
        return out
    }
}
