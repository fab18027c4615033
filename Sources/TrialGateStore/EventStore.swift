#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TrialGateAudit
import TrialGateCore

/// The append-only event log: the rules every log follows, over the database it lives in (`LogDatabase`).
///
/// An append returns only after its transaction has committed durably, and must follow the head it read under the
/// database's write lock, so the hash chain has one order even across processes. The store keeps the RFC 6962 tree
/// of the events and the signed checkpoints in the same transactions. SQLite is the embedded default
/// (`create(path:)`, `open(path:)`); any other database comes in through `init(database:)`.
public final class EventStore: @unchecked Sendable {
    /// The database the log lives in.
    public let database: any LogDatabase
    /// Where the log lives, for messages (a path, or a URL without its password).
    public var path: String { database.location }
    /// Whether appends extend the Merkle tree. Always on, except in the benchmark that measures the tree's
    /// cost on a throwaway store: a log written without it has no proofs and fails `verify`.
    public var maintainsMerkleTree = true
    /// Perfect subtrees below this level (fewer than 16 leaves) are not stored but recomputed from event bodies.
    static let storedLevelFloor = 4
    /// The tree's right border after this connection's last commit, valid while the head is still that one.
    var frontierCache: (size: Int64, hash: String, frontier: MerkleFrontier)?
    /// The log head as this connection's last successful `write` committed it (nil before one).
    public internal(set) var lastCommittedHead: LogHead?
    /// The newest checkpoint note this connection's last successful `write` stored (nil if it stored none).
    public internal(set) var lastCommittedCheckpoint: String?

    /// A store over an opened database.
    public init(database: any LogDatabase) {
        self.database = database
    }

    /// The SQLite file under this store, when it is one (its WAL and pragmas are SQLite's own).
    public var sqlite: SQLiteLogDatabase? { database as? SQLiteLogDatabase }

    /// Creates a new store: an SQLite file at `path`, or a trial's schema when `path` is a PostgreSQL URL
    /// (`PostgresLocation`), granting `writerRole`, when named, only reads and appends. Refuses to touch an existing
    /// store.
    public static func create(path: String, writerRole: String? = nil) throws -> EventStore {
        if PostgresLocation.names(path) {
            return EventStore(database: try PostgresLogDatabase.create(try PostgresLocation(path, environment: environment()), writerRole: writerRole))
        }
        return EventStore(database: try SQLiteLogDatabase.create(path: path))
    }

    /// Creates a store with only the first `schemaVersion` migrations: an older build's store, for upgrade tests.
    static func create(path: String, schemaVersion: Int) throws -> EventStore {
        EventStore(database: try SQLiteLogDatabase.create(path: path, schemaVersion: schemaVersion))
    }

    /// Opens an existing store: an SQLite file, or a trial on PostgreSQL when `path` is a `postgres://` URL.
    /// - Throws: `store_missing`, `store_corrupt` (damaged or not a TrialGate store), `store_version` or `store_io`.
    public static func open(path: String) throws -> EventStore {
        if PostgresLocation.names(path) {
            return EventStore(database: try PostgresLogDatabase.open(try PostgresLocation(path, environment: environment())))
        }
        return EventStore(database: try SQLiteLogDatabase.open(path: path))
    }

    /// `PGPASSWORD`, the one variable a PostgreSQL URL takes from the environment.
    private static func environment() -> [String: String] {
        getenv("PGPASSWORD").map { ["PGPASSWORD": String(cString: $0)] } ?? [:]
    }

    /// WAL frames between SQLite checkpoints (`SQLiteLogDatabase.walCheckpointPages`).
    public static var walCheckpointPages: Int { SQLiteLogDatabase.walCheckpointPages }

    /// Frames in the SQLite WAL after this connection's newest commit (-1 before `deferWALCheckpoints()`, and on
    /// a database without a WAL).
    public var walFrames: Int { sqlite?.walFrames ?? -1 }

    /// Hands SQLite's WAL checkpoints to the caller (`SQLiteLogDatabase.deferWALCheckpoints`); nothing on another
    /// database, which checkpoints its own log.
    public func deferWALCheckpoints() { sqlite?.deferWALCheckpoints() }

    /// One passive SQLite WAL checkpoint (`SQLiteLogDatabase.checkpointWAL`); on another database, nothing to copy.
    public func checkpointWAL() throws -> (walFrames: Int, copied: Int, busy: Bool) {
        try sqlite?.checkpointWAL() ?? (0, 0, false)
    }

    /// The `PRAGMA synchronous` value in force on an SQLite writer connection (2 = FULL; -1 on another database).
    public func synchronousSetting() throws -> Int64 { try sqlite?.synchronousSetting() ?? -1 }

    /// The SQLite journal mode in force (`wal`; empty on another database).
    public func journalMode() throws -> String { try sqlite?.journalMode() ?? "" }

    /// The log's size and newest hash.
    public func head() throws -> LogHead { try database.head() }
    /// The engine, whether it takes writes, and (PostgreSQL) the replica's lag and the writer lease.
    public func status() throws -> StoreStatus { try database.status() }

    /// The database's own structural check; empty when sound.
    public func structuralProblems() throws -> [String] { try database.structuralProblems() }

    /// Removes a PostgreSQL trial created a moment ago whose log is still empty (an `init` that failed half-way); does
    /// nothing to a log with events, or to an SQLite file (its creator unlinks it).
    public func removeIfEmpty() throws { try (database as? PostgresLogDatabase)?.dropIfEmpty() }

    /// Closes the database; further use throws.
    public func close() { database.close() }
}
