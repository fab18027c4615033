import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TrialGateAudit
import TrialGateCore

/// One row of the event table, as stored: the columns kept for queries and the canonical body that is hashed.
public struct StoredRow: Sendable {
    public let seq: Int64
    public let timestamp: String
    public let actor: String
    public let type: String
    public let candidate: String?
    public let prevHash: String
    public let hash: String
    /// RFC 8785 bytes of the event body (every field but `hash`).
    public let body: [UInt8]
    /// The `registration_seq` column: the seq of the candidate's registration, which reads by candidate go by.
    public var registrationSeq: Int64? = nil

    /// Parses the body into an event carrying the stored hash.
    /// - Throws: `store_corrupt` when the body is not a well-formed event, or does not hash to the stored hash (it
    ///   was edited outside TrialGate: nothing is built on it; `trialgate verify` says more).
    public func event() throws -> Event {
        guard bodyMatchesHash else { throw TrialGateError(.storeCorrupt, alteredMessage) }
        return try reading { try Event(json: try JSONParser.parse(body)).withHash(hash) }
    }

    /// Whether the stored bytes hash to the stored hash (they were not edited outside TrialGate).
    public var bodyMatchesHash: Bool { Digest.sha256Hex(body) == hash }

    /// What to say of a row whose bytes do not hash to its hash.
    public var alteredMessage: String {
        "event \(seq) does not hash to its stored hash: the store was changed outside TrialGate; run `trialgate verify`"
    }

    /// Parses the body into an event carrying the stored hash, whether or not the body hashes to it (for exporting
    /// what is stored as it is). Everything that builds on an event uses `event()`.
    /// - Throws: `store_corrupt` when the body is not a well-formed event.
    public func eventAsStored() throws -> Event {
        try reading { try Event(json: try JSONParser.parse(body)).withHash(hash) }
    }

    /// Parses the body and says whether it is exactly the event's RFC 8785 body (what an audit checks).
    /// - Throws: `store_corrupt` when the body is not a well-formed event.
    public func eventCheckingCanonical() throws -> (event: Event, isCanonicalBody: Bool) {
        try reading { try Event.decode(body: body, hash: hash) }
    }

    /// Reports a body that is not a well-formed event as a damaged store, naming the event.
    private func reading<T>(_ parse: () throws -> T) throws -> T {
        do {
            return try parse()
        } catch let e as TrialGateError {
            throw TrialGateError(.storeCorrupt, "event \(seq) cannot be read: \(e.message)")
        }
    }
}

/// The size and newest hash of the log.
public struct LogHead: Sendable, Equatable {
    public let size: Int64
    public let hash: String

    public init(size: Int64, hash: String) {
        self.size = size
        self.hash = hash
    }
}

/// The append-only event log in one SQLite file (WAL mode, `synchronous=FULL`).
///
/// An append returns only after its transaction has committed durably. Writers take SQLite's write lock
/// with `BEGIN IMMEDIATE`, so the hash chain has one order even across processes.
public final class EventStore: @unchecked Sendable {
    private let db: SQLiteConnection
    /// The file this store lives in.
    public let path: String
    /// Whether appends extend the Merkle tree. Always on, except in the benchmark that measures the tree's
    /// cost on a throwaway store: a log written without it has no proofs and fails `verify`.
    public var maintainsMerkleTree = true
    /// Perfect subtrees below this level (fewer than 16 leaves) are not stored but recomputed from event bodies.
    static let storedLevelFloor = 4
    /// The tree's right border after this connection's last commit, valid while the head is still that one.
    fileprivate var frontierCache: (size: Int64, hash: String, frontier: MerkleFrontier)?
    /// The log head as this connection's last successful `write` committed it (nil before one).
    public private(set) var lastCommittedHead: LogHead?
    /// The newest checkpoint note this connection's last successful `write` stored (nil if it stored none).
    public private(set) var lastCommittedCheckpoint: String?

    /// The file's identity (device, inode) when it was opened: a write checks the path still names this file.
    private var identity: (dev: UInt64, ino: UInt64)?

    private init(db: SQLiteConnection) {
        self.db = db
        self.path = db.path
        self.identity = Self.fileIdentity(db.path)
    }

    private static func fileIdentity(_ path: String) -> (dev: UInt64, ino: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// Refuses to write when the store file was deleted or replaced under this process: SQLite would go on
    /// writing to the orphaned file, and every acknowledgement would be lost at the next start.
    private func checkIdentity() throws {
        let now = Self.fileIdentity(path)
        guard let identity, let now, now == identity else {
            throw TrialGateError(.storeReplaced, "\(path) was deleted or replaced while open; nothing more is written to it (restart against the right file)")
        }
    }

    /// Creates a new store at `path`; refuses to touch an existing file.
    public static func create(path: String) throws -> EventStore {
        try create(path: path, schemaVersion: Schema.migrations.count)
    }

    /// Creates a store with only the first `schemaVersion` migrations: an older build's store, for upgrade tests.
    static func create(path: String, schemaVersion: Int) throws -> EventStore {
        if access(path, F_OK) == 0 {
            throw TrialGateError(.storeExists, "\(path) already exists; TrialGate never overwrites a store")
        }
        let db = try SQLiteConnection(path: path, create: true)
        let store = EventStore(db: db)
        try store.configure()
        try store.migrate(from: 0, to: schemaVersion)
        store.identity = fileIdentity(path)
        return store
    }

    /// Opens an existing store.
    /// - Throws: `store_missing`, `store_corrupt` (damaged or not a TrialGate store) or `store_io`.
    public static func open(path: String) throws -> EventStore {
        if access(path, F_OK) != 0 {
            throw TrialGateError(.storeMissing, "no store at \(path) (run `trialgate init --store \(path)` first)")
        }
        // A file or directory that cannot be written (a read-only filesystem) is opened read-only: reads work,
        // and every write is refused with store_readonly.
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let writable = access(path, W_OK) == 0 && access(directory.isEmpty ? "/" : directory, W_OK) == 0
        let db = try SQLiteConnection(path: path, create: false, readOnly: !writable)
        let store = EventStore(db: db)
        let app = try db.scalarInt("PRAGMA application_id", "reading the file header")
        guard app == Int64(Schema.applicationID) else {
            throw TrialGateError(.storeCorrupt, "\(path) is not a TrialGate store (application_id \(app ?? 0))")
        }
        try store.configure()
        let version = try db.scalarInt("PRAGMA user_version", "reading the schema version") ?? 0
        if version > Int64(Schema.migrations.count) || version < 1 {
            throw TrialGateError(.storeVersion, "\(path) has schema version \(version); this build knows \(Schema.migrations.count)")
        }
        if version < Int64(Schema.migrations.count) {
            guard !db.readOnly else {
                throw TrialGateError(.storeVersion, "\(path) has schema version \(version) and is read-only; open it writable once to upgrade it to \(Schema.migrations.count)")
            }
            try store.migrate(from: Int(version))
        }
        return store
    }

    /// Applies the migrations after the first `version`, up to `target`, in one transaction, and checks the log
    /// came through whole: same size, same head hash, same number of checkpoints.
    private func migrate(from version: Int, to target: Int = Schema.migrations.count) throws {
        try db.execute("BEGIN IMMEDIATE", "upgrading the schema")
        do {
            // Another process may have upgraded the store while this one waited for the write lock.
            let applied = max(version, Int(try db.scalarInt("PRAGMA user_version", "reading the schema version") ?? 0))
            if applied >= target {
                try db.execute("COMMIT", "upgrading the schema")
                return
            }
            let before = applied == 0 ? nil : try logShape()
            for m in Schema.migrations[applied..<target] {
                try db.execute(m.sql, "applying migration \(m.name)")
                try db.run("INSERT INTO migrations (name, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                           [.text(m.name)], "recording migration \(m.name)")
            }
            if let before, try logShape() != before {
                throw TrialGateError(.storeCorrupt, "\(path): upgrading the schema would change the log (\(before)); nothing was changed")
            }
            try db.execute("PRAGMA application_id = \(Schema.applicationID); PRAGMA user_version = \(target); COMMIT",
                           "upgrading the schema")
        } catch {
            try? db.execute("ROLLBACK", "rolling back")
            throw error
        }
    }

    /// What an upgrade must leave as it found: the number of events, the head hash, the number of checkpoints.
    private func logShape() throws -> String {
        let head = try head()
        let checkpoints = try db.scalarInt("SELECT count(*) FROM checkpoints", "counting checkpoints") ?? 0
        let events = try db.scalarInt("SELECT count(*) FROM events", "counting events") ?? 0
        return "\(events) events, head \(head.size) \(head.hash.prefix(16)), \(checkpoints) checkpoints"
    }

    /// WAL frames between checkpoints. Each checkpoint copies the changed pages into the database file and syncs
    /// it, in the commit that crosses the mark; a page changed by many commits is copied once. SQLite's 1,000
    /// (4 MB) stalls a busy writer every ~70 commits and copies the hot pages at the end of each index again
    /// and again; 10,000 (a WAL of up to ~40 MB) makes the stalls ten times rarer and the copying cheaper.
    static let walCheckpointPages = 10_000

    private func configure() throws {
        if db.readOnly { return }
        let mode = try db.scalarText("PRAGMA journal_mode = WAL", "enabling WAL")
        guard mode?.lowercased() == "wal" else { throw TrialGateError(.storeIO, "\(path): cannot enable WAL (got \(mode ?? "nothing"))") }
        try db.execute("PRAGMA synchronous = FULL", "setting synchronous=FULL")
        try db.execute("PRAGMA wal_autocheckpoint = \(Self.walCheckpointPages)", "setting the WAL checkpoint interval")
        // A durable acknowledgement depends on this; read it back rather than trust the write.
        guard try db.scalarInt("PRAGMA synchronous", "reading synchronous") == 2 else {
            throw TrialGateError(.storeIO, "\(path): synchronous=FULL did not take effect")
        }
    }

    /// The `PRAGMA synchronous` value in force on the writer connection (2 = FULL).
    public func synchronousSetting() throws -> Int64 { try db.scalarInt("PRAGMA synchronous", "reading synchronous") ?? -1 }

    /// The journal mode in force (`wal`).
    public func journalMode() throws -> String { try db.scalarText("PRAGMA journal_mode", "reading journal_mode") ?? "" }

    /// The log's size and newest hash.
    public func head() throws -> LogHead {
        var head = LogHead(size: 0, hash: Event.genesisHash)
        try db.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], "reading the log head") { s in
            head = LogHead(size: sqlite3_column_int64(s, 0), hash: SQLiteConnection.text(s, 1) ?? "")
        }
        return head
    }

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
    /// Built once: the statement cache is keyed by the SQL text.
    static let insertEvent = "INSERT INTO events (seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq) "
        + "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?4 = 'candidate.registered' THEN ?1 ELSE (\(registrationOf("?5"))) END)"

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

    /// How many of the newest events a writer re-hashes from their stored bytes before it vouches for the head.
    public static let vouchedTail: Int64 = 16

    /// The tree's right border at `size`, with the newest `tail` leaves hashed from the stored bodies, each of which
    /// must hash to its `hash` column and name its predecessor's hash; older leaves come from stored subtrees.
    /// A head rewritten in place (its hash recomputed, the stored subtrees left alone) gives another root.
    /// - Returns: the border, or why the tail does not hold (naming the event).
    public func frontierCheckingTail(size: Int64, tail: Int64 = vouchedTail) throws -> Result<MerkleFrontier, TrialGateError> {
        let k = min(size, tail)
        var frontier = try MerkleFrontier(size: size - k, nodes: self)
        var previous = size - k == 0 ? Event.genesisHash : try hash(seq: size - k) ?? ""
        var problem: TrialGateError?
        try forEachRow(from: size - k + 1, through: size) { row in
            guard problem == nil else { return }
            do {
                let event = try row.event()
                guard event.seq == row.seq, event.prevHash == previous, row.prevHash == previous else {
                    problem = TrialGateError(.storeCorrupt, "event \(row.seq) does not name the hash of event \(row.seq - 1) as its predecessor")
                    return
                }
            } catch let e as TrialGateError {
                problem = e
                return
            }
            frontier.append(leafHash: Merkle.leafHash(row.body))
            previous = row.hash
        }
        if let problem { return .failure(problem) }
        guard frontier.size == size else {
            return .failure(TrialGateError(.storeCorrupt, "events \(size - k + 1)…\(size) are not all stored"))
        }
        return .success(frontier)
    }

    /// The newest seq among events of the given types (0: none), from the type index alone.
    public func newestSeq(types: [EventType]) throws -> Int64 {
        let list = types.map { "'\($0.rawValue)'" }.joined(separator: ",")
        return try db.scalarInt("SELECT coalesce(max(seq), 0) FROM events WHERE type IN (\(list))", "finding the newest event of a type") ?? 0
    }

    /// The event at `seq`, if any.
    public func event(seq: Int64) throws -> Event? { try events(from: seq, through: seq).first }

    /// SQLite's own structural check of the file (`PRAGMA quick_check`); empty when sound.
    public func structuralProblems() throws -> [String] {
        var problems: [String] = []
        try db.query("PRAGMA quick_check", [], "checking the file") { s in
            let line = SQLiteConnection.text(s, 0) ?? ""
            if line != "ok" { problems.append(line) }
        }
        return problems
    }

    /// Runs `body`'s reads in one read transaction, so they all see the log as of one commit (separate statements
    /// would each see the newest commit, and a writer in between would make them disagree). Inside a transaction
    /// already open on this connection, `body` simply runs in it.
    public func reading<T>(_ body: () throws -> T) throws -> T {
        guard sqlite3_get_autocommit(db.handle) != 0 else { return try body() }
        try db.execute("BEGIN DEFERRED", "starting a read")
        defer { try? db.execute("COMMIT", "ending a read") }
        return try body()
    }

    /// Runs `body` inside one write transaction (`BEGIN IMMEDIATE … COMMIT`).
    ///
    /// Returns after the commit is durable; if `body` throws or the commit fails, everything it appended is
    /// rolled back and the error is rethrown.
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        do {
            var txn: WriteTransaction?
            let result = try immediateTransaction("starting a write") { () throws -> T in
                let t = WriteTransaction(store: self, head: try head())
                txn = t
                return try body(t)
            }
            frontierCache = txn.flatMap { t in t.committedFrontier.map { (t.head.size, t.head.hash, $0) } }
            lastCommittedHead = txn?.head
            lastCommittedCheckpoint = txn?.checkpointNote
            return result
        } catch {
            frontierCache = nil
            throw error
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE … COMMIT` transaction, so writers across processes take turns. Refused
    /// on a read-only store or one deleted or replaced under it; rolled back when `body` or the commit fails.
    /// Returns after the commit is durable.
    private func immediateTransaction<T>(_ what: String, _ body: () throws -> T) throws -> T {
        if db.readOnly {
            throw TrialGateError(.storeReadonly, "\(path) cannot be written (read-only file or filesystem); nothing was written")
        }
        try checkIdentity()
        try db.execute("BEGIN IMMEDIATE", what)
        do {
            let result = try body()
            try db.execute("COMMIT", "committing")
            // Deleted or replaced during the commit: what was written is not in the store others will open,
            // so it must not be acknowledged.
            try checkIdentity()
            return result
        } catch {
            try? db.execute("ROLLBACK", "rolling back")
            throw error
        }
    }

    /// The handle a write runs with: the head as of the lock, and `append`.
    public final class WriteTransaction {
        private let store: EventStore
        /// The log head, advanced by each append.
        public private(set) var head: LogHead
        /// The events appended so far in this transaction.
        public private(set) var appended: [Event] = []
        /// The tree's right border as of `head`, once an append needed it.
        private var frontier: MerkleFrontier?
        /// The size of the newest checkpoint this transaction stored (-1: none yet).
        public private(set) var checkpointedSize: Int64 = -1
        /// The note of the newest checkpoint this transaction stored.
        public private(set) var checkpointNote: String?

        init(store: EventStore, head: LogHead) {
            self.store = store
            self.head = head
        }

        private var savepoints = 0

        /// Runs `body` under a savepoint: if it throws, only its own appends are undone and the
        /// transaction goes on. This is how a batch of commands shares one durable commit.
        public func savepoint<T>(_ body: () throws -> T) throws -> T {
            savepoints += 1
            let name = "sp\(savepoints)"
            let (savedHead, savedCount, savedCheckpoint, savedFrontier, savedNote) = (head, appended.count, checkpointedSize, frontier, checkpointNote)
            // Prepared once and reused: a batch opens one savepoint per command.
            try store.db.run("SAVEPOINT \(name)", [], "opening a savepoint")
            do {
                let result = try body()
                try store.db.run("RELEASE \(name)", [], "releasing a savepoint")
                savepoints -= 1
                return result
            } catch {
                try? store.db.run("ROLLBACK TO \(name)", [], "rolling back a savepoint")
                try? store.db.run("RELEASE \(name)", [], "rolling back a savepoint")
                savepoints -= 1
                head = savedHead
                checkpointedSize = savedCheckpoint
                checkpointNote = savedNote
                frontier = savedFrontier
                appended.removeSubrange(savedCount...)
                throw error
            }
        }

        /// Inserts a sealed event that must follow the current head, and extends the Merkle tree with its leaf.
        /// - Parameter canonicalBody: the event's RFC 8785 body when the caller already has it (from
        ///   `HashChain.sealWithBody`); it must be `event.canonicalBody`.
        public func append(_ event: Event, canonicalBody: [UInt8]? = nil) throws {
            guard event.seq == head.size + 1, event.prevHash == head.hash else {
                throw TrialGateError(.storeChain, "event \(event.seq) does not follow the log head \(head.size)")
            }
            let body = canonicalBody ?? event.canonicalBody
            assert(body == event.canonicalBody, "canonicalBody is not the event's canonical body")
            try store.db.run(EventStore.insertEvent,
                [.int(event.seq), .text(event.timestamp.description), .text(event.actor), .text(event.type.rawValue),
                 event.candidate.map { .text($0) } ?? .null, .text(event.prevHash), .text(event.hash), .utf8(body)],
                "appending event \(event.seq)")
            if store.maintainsMerkleTree {
                // Leaf index = seq - 1. Only the leaf and the parents it completes are new; of those, subtrees of
                // 16 leaves or more are stored. The right border of the tree (one hash per level) is kept in memory.
                try loadFrontier()
                for n in frontier!.appendReturningNodes(leafHash: Merkle.leafHash(body)) where n.level >= EventStore.storedLevelFloor {
                    try store.db.run("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)",
                                     [.int(Int64(n.level)), .int(n.index), .blob(n.hash)], "extending the Merkle tree")
                }
            }
            head = LogHead(size: event.seq, hash: event.hash)
            appended.append(event)
        }

        private func loadFrontier() throws {
            guard frontier == nil else { return }
            if let c = store.frontierCache, c.size == head.size, c.hash == head.hash {
                frontier = c.frontier
            } else {
                frontier = try MerkleFrontier(size: head.size, nodes: store)
            }
        }

        /// Takes a border checked against the stored bytes (`frontierCheckingTail`) as this transaction's, before its
        /// first append, so that what it appends extends exactly the tree the newest checkpoint signed.
        public func adopt(_ checked: MerkleFrontier) {
            if appended.isEmpty, checked.size == head.size { frontier = checked }
        }

        /// The Merkle root of the log as this transaction leaves it.
        public func treeRoot() throws -> [UInt8] {
            try loadFrontier()
            return frontier!.root
        }

        /// The right border, for the store to keep after a commit.
        var committedFrontier: MerkleFrontier? { frontier }

        /// Stores a signed checkpoint of the first `size` events.
        public func addCheckpoint(size: Int64, issuedAt: UTCTimestamp, note: String) throws {
            try store.db.run("INSERT INTO checkpoints (size, issued_at, note) VALUES (?, ?, ?)",
                             [.int(size), .text(issuedAt.description), .text(note)], "storing the checkpoint of size \(size)")
            checkpointedSize = size
            checkpointNote = note
        }
    }

    /// A stored checkpoint: the signed note of the tree at `size`.
    public struct StoredCheckpoint: Sendable, Equatable {
        public let size: Int64
        public let issuedAt: String
        public let note: String
    }

    /// Stored checkpoints with sizes in `from ... through`, by size.
    public func checkpoints(from: Int64 = 1, through: Int64 = .max) throws -> [StoredCheckpoint] {
        var out: [StoredCheckpoint] = []
        try db.query("SELECT size, issued_at, note FROM checkpoints WHERE size BETWEEN ? AND ? ORDER BY size", [.int(from), .int(through)],
                     "reading checkpoints") { s in out.append(Self.checkpointRow(s)) }
        return out
    }

    /// The newest stored checkpoint, if any.
    public func latestCheckpoint() throws -> StoredCheckpoint? {
        var out: StoredCheckpoint?
        try db.query("SELECT size, issued_at, note FROM checkpoints ORDER BY size DESC LIMIT 1", [], "reading the latest checkpoint") { s in
            out = Self.checkpointRow(s)
        }
        return out
    }

    private static func checkpointRow(_ s: OpaquePointer) -> StoredCheckpoint {
        StoredCheckpoint(size: sqlite3_column_int64(s, 0), issuedAt: SQLiteConnection.text(s, 1) ?? "", note: SQLiteConnection.text(s, 2) ?? "")
    }

    /// A saved report snapshot: the report state at `size` (whose event has hash `head`), the statement the
    /// trial key signed (canonical JSON) and its signature (base64).
    public struct StoredReportSnapshot: Sendable, Equatable {
        public let size: Int64
        public let head: String
        public let madeAt: String
        public let state: [UInt8]
        public let statement: String
        public let signature: String

        public init(size: Int64, head: String, madeAt: String, state: [UInt8], statement: String, signature: String) {
            self.size = size
            self.head = head
            self.madeAt = madeAt
            self.state = state
            self.statement = statement
            self.signature = signature
        }
    }

    /// How many report snapshots a store keeps: the newest serves the reports of today, older ones the reports
    /// `--as-of` an earlier point.
    public static let reportSnapshotsKept = 3

    /// Saves a report snapshot in a transaction of its own (durable on return) and deletes all but the newest
    /// `reportSnapshotsKept`. A snapshot of a size saved before replaces it (that one may not have checked out).
    public func saveReportSnapshot(_ snapshot: StoredReportSnapshot) throws {
        try immediateTransaction("saving a report snapshot") {
            try db.run("DELETE FROM report_snapshots WHERE size = ?", [.int(snapshot.size)], "replacing the report snapshot of size \(snapshot.size)")
            try db.run("INSERT INTO report_snapshots (size, head, made_at, state, statement, signature) VALUES (?, ?, ?, ?, ?, ?)",
                       [.int(snapshot.size), .text(snapshot.head), .text(snapshot.madeAt), .blob(snapshot.state), .text(snapshot.statement),
                        .text(snapshot.signature)], "saving the report snapshot of size \(snapshot.size)")
            try db.run("DELETE FROM report_snapshots WHERE size NOT IN (SELECT size FROM report_snapshots ORDER BY size DESC LIMIT ?)",
                       [.int(Int64(Self.reportSnapshotsKept))], "deleting old report snapshots")
        }
    }

    /// The sizes of the saved report snapshots, newest first.
    public func reportSnapshotSizes() throws -> [Int64] {
        var sizes: [Int64] = []
        try db.query("SELECT size FROM report_snapshots ORDER BY size DESC", [], "listing report snapshots") { s in
            sizes.append(sqlite3_column_int64(s, 0))
        }
        return sizes
    }

    /// The saved report snapshot of exactly `size` events, if any.
    public func reportSnapshot(size: Int64) throws -> StoredReportSnapshot? {
        var out: StoredReportSnapshot?
        try db.query("SELECT size, head, made_at, state, statement, signature FROM report_snapshots WHERE size = ?", [.int(size)],
                     "reading the report snapshot of size \(size)") { s in
            out = StoredReportSnapshot(size: sqlite3_column_int64(s, 0), head: SQLiteConnection.text(s, 1) ?? "",
                                       madeAt: SQLiteConnection.text(s, 2) ?? "", state: SQLiteConnection.blob(s, 3),
                                       statement: SQLiteConnection.text(s, 4) ?? "", signature: SQLiteConnection.text(s, 5) ?? "")
        }
        return out
    }

    /// The root of the tree over the first `size` events.
    public func merkleRoot(size: Int64) throws -> [UInt8] { try Merkle.root(size: size, self) }

    /// Closes the file; further use throws.
    public func close() { db.close() }
}

extension EventStore: MerkleNodeSource {
    /// A stored perfect-subtree hash.
    /// - Throws: `store_corrupt` when the node is missing: the tree must cover every event.
    public func node(level: Int, index: Int64) throws -> [UInt8] {
        if level < Self.storedLevelFloor {
            // A small subtree: hash its leaves from the stored bodies.
            var hashes: [[UInt8]] = []
            let first = (index << level) + 1
            try forEachRow(from: first, through: first + (1 << level) - 1) { hashes.append(Merkle.leafHash($0.body)) }
            guard hashes.count == 1 << level else {
                throw TrialGateError(.storeCorrupt, "the Merkle tree needs events \(first)…\(first + (1 << level) - 1), which are not all stored")
            }
            while hashes.count > 1 {
                hashes = stride(from: 0, to: hashes.count, by: 2).map { Merkle.nodeHash(hashes[$0], hashes[$0 + 1]) }
            }
            return hashes[0]
        }
        var out: [UInt8]?
        try db.query("SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", [.int(Int64(level)), .int(index)],
                     "reading the Merkle tree") { s in out = SQLiteConnection.blob(s, 0) }
        guard let out, out.count == Merkle.hashSize else {
            throw TrialGateError(.storeCorrupt, "the Merkle tree has no node at level \(level), index \(index)")
        }
        return out
    }
}
