import CSQLite
import TrialGateCore

extension EventStore {
    private static let rowColumns = "seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq"

    private static func row(_ s: OpaquePointer) -> StoredRow {
        StoredRow(seq: sqlite3_column_int64(s, 0), timestamp: SQLiteConnection.text(s, 1) ?? "", actor: SQLiteConnection.text(s, 2) ?? "",
                  type: SQLiteConnection.text(s, 3) ?? "", candidate: SQLiteConnection.text(s, 4),
                  prevHash: SQLiteConnection.text(s, 5) ?? "", hash: SQLiteConnection.text(s, 6) ?? "",
                  body: SQLiteConnection.bytes(s, 7),
                  registrationSeq: sqlite3_column_type(s, 8) == SQLITE_NULL ? nil : sqlite3_column_int64(s, 8))
    }

    /// Calls `body` with every stored row from `from` through `through`, in order.
    public func forEachRow(from: Int64 = 1, through: Int64 = .max, _ body: (StoredRow) throws -> Void) throws {
        try db.query("SELECT \(Self.rowColumns) FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq", [.int(from), .int(through)],
                     "reading events") { s in try body(Self.row(s)) }
    }

    /// The events from `from` through `through` whose type is one of `types`, and the records that a correction
    /// up to `through` corrects (whatever their type), in log order: what a fold that needs only some kinds of
    /// event reads, without parsing the rest.
    public func forEachRow(from: Int64 = 1, through: Int64 = .max, typesAndCorrected types: [EventType],
                           _ body: (StoredRow) throws -> Void) throws {
        try db.query(Self.rowsSQL(typesAndCorrected: types), [.int(from), .int(through)], "reading events by type") { s in
            try body(Self.row(s))
        }
    }

    /// The query of `forEachRow(from:through:typesAndCorrected:)`, with the range as `?1` and `?2`. `+type`
    /// keeps SQLite from answering the OR with the type index, which ignores the range: every call would read
    /// every event of those types in the log, a quadratic fold.
    static func rowsSQL(typesAndCorrected types: [EventType]) -> String {
        let list = types.map { "'\($0.rawValue)'" }.joined(separator: ",")
        return "SELECT \(rowColumns) FROM events WHERE seq BETWEEN ?1 AND ?2 AND (+type IN (\(list))"
            + " OR seq IN (SELECT json_extract(body, '$.payload.corrects') FROM events WHERE type = 'entry.corrected' AND seq <= ?2))"
            + " ORDER BY seq"
    }

    /// The size the log had at `time`: the events before the first one stamped later.
    public func size(at time: UTCTimestamp) throws -> Int64 {
        var later: Int64?
        try db.query("SELECT min(seq) FROM events WHERE ts > ?", [.text(time.description)], "finding the log size at a time") { s in
            if sqlite3_column_type(s, 0) != SQLITE_NULL { later = sqlite3_column_int64(s, 0) }
        }
        return try later.map { $0 - 1 } ?? head().size
    }

    /// The hash of event `seq`, if it exists.
    public func hash(seq: Int64) throws -> String? {
        var hash: String?
        try db.query("SELECT hash FROM events WHERE seq = ?", [.int(seq)], "reading an event's hash") { s in hash = SQLiteConnection.text(s, 0) }
        return hash
    }

    /// SQL for the seq of the registration of the candidate named by the parameter `candidate` (a unique index).
    static func registrationOf(_ candidate: String) -> String {
        "SELECT seq FROM events WHERE type = 'candidate.registered' AND candidate = \(candidate)"
    }

    /// The `WHERE` clause of events about one candidate: the candidate id is looked up once, then its events
    /// are one range of the `registration_seq` index.
    private static let aboutCandidate = "registration_seq = (\(registrationOf("?")))"

    /// The sequence number and hash of the newest event of the candidate registered by event `registrationSeq`
    /// (its events are one range of the `registration_seq` index), and the newest policy publication's sequence
    /// number (0: none; a newer policy can make the candidate's decision stale), in one statement; nil when there is
    /// no such candidate.
    public func newestEvent(registrationSeq: Int64) throws -> (seq: Int64, hash: String, policySeq: Int64)? {
        var newest: (Int64, String, Int64)?
        try db.query(Self.newestOfRegistration, [.int(registrationSeq)], "reading a candidate's newest event") { s in
            newest = (sqlite3_column_int64(s, 0), SQLiteConnection.text(s, 1) ?? "", sqlite3_column_int64(s, 2))
        }
        return newest
    }
    private static let newestOfRegistration = "SELECT seq, hash, (SELECT coalesce(max(seq), 0) FROM events WHERE type = 'policy.published') "
        + "FROM events WHERE registration_seq = ? ORDER BY seq DESC LIMIT 1"

    /// Every event from `from` through `through`, parsed.
    public func events(from: Int64 = 1, through: Int64 = .max) throws -> [Event] {
        var out: [Event] = []
        try forEachRow(from: from, through: through) { out.append(try $0.event()) }
        return out
    }

    /// Every event about one candidate, in order.
    public func events(candidate: String) throws -> [Event] {
        var out: [Event] = []
        try db.query("SELECT \(Self.rowColumns) FROM events WHERE \(Self.aboutCandidate) ORDER BY seq", [.text(candidate)],
                     "reading a candidate's events") { s in out.append(try Self.row(s).event()) }
        return out
    }

    /// A candidate's events of the given types, in order (uses the candidate index).
    public func events(candidate: String, types: [EventType]) throws -> [Event] {
        var out: [Event] = []
        let list = types.map { "'\($0.rawValue)'" }.joined(separator: ",")
        try db.query("SELECT \(Self.rowColumns) FROM events WHERE \(Self.aboutCandidate) AND type IN (\(list)) ORDER BY seq", [.text(candidate)],
                     "reading a candidate's events") { s in out.append(try Self.row(s).event()) }
        return out
    }

    /// Every event of the given types after sequence number `after`, in order.
    public func events(types: [EventType], after: Int64 = 0) throws -> [Event] {
        var out: [Event] = []
        let list = types.map { "'\($0.rawValue)'" }.joined(separator: ",")
        try db.query("SELECT \(Self.rowColumns) FROM events WHERE type IN (\(list)) AND seq > ? ORDER BY seq", [.int(after)],
                     "reading events by type") { s in out.append(try Self.row(s).event()) }
        return out
    }

    /// Calls `body` with each event of the given types after sequence number `after`, in order, one at a time,
    /// until it returns false.
    public func forEachEvent(types: [EventType], after: Int64 = 0, _ body: (Event) throws -> Bool) throws {
        let list = types.map { "'\($0.rawValue)'" }.joined(separator: ",")
        try db.queryWhile("SELECT \(Self.rowColumns) FROM events WHERE type IN (\(list)) AND seq > ? ORDER BY seq", [.int(after)],
                          "reading events by type") { s in try body(try Self.row(s).event()) }
    }

    /// The newest seq among events of the given types (0: none), from the type index alone.
    public func newestSeq(types: [EventType]) throws -> Int64 {
        let list = types.map { "'\($0.rawValue)'" }.joined(separator: ",")
        return try db.scalarInt("SELECT coalesce(max(seq), 0) FROM events WHERE type IN (\(list))", "finding the newest event of a type") ?? 0
    }

    /// The event at `seq`, if any.
    public func event(seq: Int64) throws -> Event? { try events(from: seq, through: seq).first }

    /// Runs `body`'s reads in one read transaction, so they all see the log as of one commit (separate statements
    /// would each see the newest commit, and a writer in between would make them disagree). Inside a transaction
    /// already open on this connection, `body` simply runs in it.
    public func reading<T>(_ body: () throws -> T) throws -> T {
        guard sqlite3_get_autocommit(db.handle) != 0 else { return try body() }
        try db.execute("BEGIN DEFERRED", "starting a read")
        defer { try? db.execute("COMMIT", "ending a read") }
        return try body()
    }
}
