import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TrialGateCore

/// A log in one SQLite file (WAL mode, `synchronous=FULL`): the embedded default.
///
/// Writers take SQLite's write lock with `BEGIN IMMEDIATE`, so the hash chain has one order even across processes.
/// The schema (`Schema`) refuses updates and deletes of the append-only tables, gaps and broken chains.
public final class SQLiteLogDatabase: LogDatabase {
    let db: SQLiteConnection
    /// The file this log lives in.
    public let path: String
    public var location: String { path }
    public var isReadOnly: Bool { db.readOnly }
    public var inTransaction: Bool { sqlite3_get_autocommit(db.handle) == 0 }

    public func status() throws -> StoreStatus { StoreStatus(engine: "sqlite", readOnly: isReadOnly) }

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
    public func checkWritable() throws {
        let now = Self.fileIdentity(path)
        guard let identity, let now, now == identity else {
            throw TrialGateError(.storeReplaced, "\(path) was deleted or replaced while open; nothing more is written to it (restart against the right file)")
        }
    }

    /// Creates a new log file at `path` with the first `schemaVersion` migrations; refuses to touch an existing file.
    static func create(path: String, schemaVersion: Int = Schema.migrations.count) throws -> SQLiteLogDatabase {
        if access(path, F_OK) == 0 {
            throw TrialGateError(.storeExists, "\(path) already exists; TrialGate never overwrites a store")
        }
        let database = SQLiteLogDatabase(db: try SQLiteConnection(path: path, create: true))
        try database.configure()
        try database.migrate(from: 0, to: schemaVersion)
        database.identity = fileIdentity(path)
        return database
    }

    /// Opens an existing log file, upgrading its schema when it is older than this build's.
    /// - Throws: `store_missing`, `store_corrupt` (damaged or not a TrialGate store), `store_version` or `store_io`.
    static func open(path: String) throws -> SQLiteLogDatabase {
        if access(path, F_OK) != 0 {
            throw TrialGateError(.storeMissing, "no store at \(path) (run `trialgate init --store \(path)` first)")
        }
        // A file or directory that cannot be written (a read-only filesystem) is opened read-only: reads work,
        // and every write is refused with store_readonly.
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let writable = access(path, W_OK) == 0 && access(directory.isEmpty ? "/" : directory, W_OK) == 0
        let db = try SQLiteConnection(path: path, create: false, readOnly: !writable)
        let database = SQLiteLogDatabase(db: db)
        let app = try db.scalarInt("PRAGMA application_id", "reading the file header")
        guard app == Int64(Schema.applicationID) else {
            throw TrialGateError(.storeCorrupt, "\(path) is not a TrialGate store (application_id \(app ?? 0))")
        }
        try database.configure()
        let version = try db.scalarInt("PRAGMA user_version", "reading the schema version") ?? 0
        if version > Int64(Schema.migrations.count) || version < 1 {
            throw TrialGateError(.storeVersion, "\(path) has schema version \(version); this build knows \(Schema.migrations.count)")
        }
        if version < Int64(Schema.migrations.count) {
            guard !db.readOnly else {
                throw TrialGateError(.storeVersion, "\(path) has schema version \(version) and is read-only; open it writable once to upgrade it to \(Schema.migrations.count)")
            }
            try database.migrate(from: Int(version))
        }
        return database
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
        let checkpoints = try checkpointCount()
        let events = try db.scalarInt("SELECT count(*) FROM events", "counting events") ?? 0
        return "\(events) events, head \(head.size) \(head.hash.prefix(16)), \(checkpoints) checkpoints"
    }

    /// WAL frames between checkpoints. Each checkpoint copies the changed pages into the database file and syncs
    /// it, in the commit that crosses the mark; a page changed by many commits is copied once. SQLite's 1,000
    /// (4 MB) stalls a busy writer every ~70 commits and copies the hot pages at the end of each index again
    /// and again; 10,000 (a WAL of up to ~40 MB) makes the stalls ten times rarer and the copying cheaper.
    public static let walCheckpointPages = 10_000

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

    /// Frames in the WAL after this connection's newest commit, once `deferWALCheckpoints()` is on (-1 before).
    public private(set) var walFrames = -1

    /// Stops this connection's commits from checkpointing the WAL. SQLite's automatic checkpoint runs inside the commit
    /// that crosses its mark (`walCheckpointPages`) and holds that commit's caller while it copies the WAL into the
    /// database file and syncs it. From now on a commit only notes how many frames the WAL holds (`walFrames`), and
    /// whoever turned this on calls `checkpointWAL()`, on this connection or another, to copy them. Commits stay as
    /// durable as before: the WAL is synced at each one (`synchronous=FULL`); a checkpoint only moves committed pages.
    public func deferWALCheckpoints() {
        guard !db.readOnly, let handle = db.handle else { return }
        // Replaces the automatic checkpoint, which is SQLite's own WAL hook. The database outlives its handle (`close`).
        sqlite3_wal_hook(handle, { context, _, _, frames in
            if let context { Unmanaged<SQLiteLogDatabase>.fromOpaque(context).takeUnretainedValue().walFrames = Int(frames) }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// One passive WAL checkpoint: copies into the database file the committed frames that no reader still needs,
    /// and syncs it, waiting for no lock; `busy` when another connection's checkpoint is running.
    /// - Returns: the frames in the WAL and how many of them are now in the database file.
    public func checkpointWAL() throws -> (walFrames: Int, copied: Int, busy: Bool) {
        var frames: Int32 = 0
        var copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(db.handle, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
        if rc & 0xFF == SQLITE_BUSY { return (Int(frames), Int(copied), true) }
        guard rc == SQLITE_OK else { throw db.error(rc, "checkpointing the WAL") }
        return (Int(frames), Int(copied), false)
    }

    /// The `PRAGMA synchronous` value in force on this connection (2 = FULL).
    public func synchronousSetting() throws -> Int64 { try db.scalarInt("PRAGMA synchronous", "reading synchronous") ?? -1 }

    /// The journal mode in force (`wal`).
    public func journalMode() throws -> String { try db.scalarText("PRAGMA journal_mode", "reading journal_mode") ?? "" }

    // MARK: Transactions

    public func beginWrite(_ what: String) throws { try db.execute("BEGIN IMMEDIATE", what) }
    public func commit() throws { try db.execute("COMMIT", "committing") }
    public func rollback() { try? db.execute("ROLLBACK", "rolling back") }
    // Prepared once and reused: a batch opens one savepoint per command.
    public func savepoint(_ name: String) throws { try db.run("SAVEPOINT \(name)", [], "opening a savepoint") }
    public func release(_ name: String) throws { try db.run("RELEASE \(name)", [], "releasing a savepoint") }
    public func rollback(to name: String) {
        try? db.run("ROLLBACK TO \(name)", [], "rolling back a savepoint")
        try? db.run("RELEASE \(name)", [], "rolling back a savepoint")
    }
    public func beginRead() throws { try db.execute("BEGIN DEFERRED", "starting a read") }
    public func endRead() { try? db.execute("COMMIT", "ending a read") }

    /// SQLite's own structural check of the file (`PRAGMA quick_check`); empty when sound.
    public func structuralProblems() throws -> [String] {
        var problems: [String] = []
        try db.query("PRAGMA quick_check", [], "checking the file") { s in
            let line = SQLiteConnection.text(s, 0) ?? ""
            if line != "ok" { problems.append(line) }
        }
        return problems
    }

    public func close() { db.close() }
}
