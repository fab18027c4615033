import TrialGateCore

/// The database an event log lives in: its tables, their transactions, and the invariants the schema itself
/// enforces (append-only tables, gap-free sequence, each event naming its predecessor's hash).
///
/// `EventStore` holds the log's rules (the head an append must follow, the Merkle tree, checkpoints, report
/// snapshots) once, over any `LogDatabase`; a database only stores rows and gives them back. SQLite
/// (`SQLiteLogDatabase`, one file) and PostgreSQL (`PostgresLogDatabase`, one schema per trial) are the two. Both
/// must return exactly the bytes they were given: the store's hashes, roots and signatures are computed from them.
///
/// A database is used by one thread at a time (the store's owner); it is not `Sendable` on its own.
public protocol LogDatabase: AnyObject {
    /// Where the log lives, for messages: a file path, or a URL without its password.
    var location: String { get }
    /// Whether every write is refused (a read-only file or filesystem, or a read-only replica).
    var isReadOnly: Bool { get }
    /// Whether a transaction (read or write) is open on this connection.
    var inTransaction: Bool { get }

    /// Throws when a write now would not reach the log others read (a store file deleted or replaced under this
    /// process). Called before a write transaction starts and again after it commits.
    func checkWritable() throws
    /// Opens a write transaction that excludes every other writer of this log, in this process or another, until it
    /// ends: the hash chain has one order.
    func beginWrite(_ what: String) throws
    /// Commits the open write transaction; returns once it is durable.
    func commit() throws
    /// Rolls the open transaction back (best effort: the transaction is over either way).
    func rollback()
    /// Opens a named savepoint in the open write transaction.
    func savepoint(_ name: String) throws
    /// Releases a savepoint, keeping what was written under it.
    func release(_ name: String) throws
    /// Undoes what was written since the savepoint, and releases it.
    func rollback(to name: String)
    /// Opens a read transaction: every read until `endRead` sees the log as of one commit.
    func beginRead() throws
    /// Ends the read transaction.
    func endRead()

    /// The newest event's seq and hash (`size` 0 and the genesis hash on an empty log).
    func head() throws -> LogHead
    /// Inserts one event row. The database refuses a seq that is not the next one and a `prevHash` that is not the
    /// hash of the event before; it works out `registration_seq` itself.
    func insertEvent(_ event: Event, body: [UInt8]) throws
    /// Calls `body` with every row from `from` through `through`, in order.
    func forEachRow(from: Int64, through: Int64, _ body: (StoredRow) throws -> Void) throws
    /// The rows from `from` through `through` whose type is one of `types`, and the records a correction up to
    /// `through` corrects (whatever their type), in order.
    func forEachRow(from: Int64, through: Int64, typesAndCorrected types: [EventType], _ body: (StoredRow) throws -> Void) throws
    /// The rows of one candidate (of the given types, or all when nil), in order.
    func forEachRow(candidate: String, types: [EventType]?, _ body: (StoredRow) throws -> Void) throws
    /// The rows of the given types after `after`, in order, until `body` returns false.
    func forEachRow(types: [EventType], after: Int64, _ body: (StoredRow) throws -> Bool) throws
    /// The smallest seq of an event stamped later than `timestamp` (its text form), if any.
    func firstSeq(after timestamp: String) throws -> Int64?
    /// The hash of event `seq`, if it exists.
    func hash(seq: Int64) throws -> String?
    /// The seq and hash of the newest event of the candidate registered at `registrationSeq`, and the newest policy
    /// publication's seq (0: none).
    func newestEvent(registrationSeq: Int64) throws -> (seq: Int64, hash: String, policySeq: Int64)?
    /// The newest seq among events of the given types (0: none).
    func newestSeq(types: [EventType]) throws -> Int64

    /// Stores a perfect-subtree hash of the Merkle tree.
    func insertNode(level: Int, index: Int64, hash: [UInt8]) throws
    /// A stored perfect-subtree hash, if stored.
    func storedNode(level: Int, index: Int64) throws -> [UInt8]?

    /// Stores a signed checkpoint note of the first `size` events.
    func insertCheckpoint(size: Int64, issuedAt: String, note: String) throws
    /// Stored checkpoints with sizes in `from ... through`, by size.
    func checkpoints(from: Int64, through: Int64) throws -> [EventStore.StoredCheckpoint]
    /// The stored checkpoint of the largest size at or below `size`.
    func checkpointAtOrBefore(size: Int64) throws -> EventStore.StoredCheckpoint?
    /// How many checkpoints are stored.
    func checkpointCount() throws -> Int64

    /// Saves a report snapshot (replacing one of the same size) and keeps only the newest `keep`, in the open write
    /// transaction.
    func replaceReportSnapshot(_ snapshot: EventStore.StoredReportSnapshot, keep: Int) throws
    /// The sizes of the saved report snapshots, newest first.
    func reportSnapshotSizes() throws -> [Int64]
    /// The report snapshot of exactly `size` events.
    func reportSnapshot(size: Int64) throws -> EventStore.StoredReportSnapshot?

    /// Whether this exact cosignature line of `witness` for `size` is kept.
    func hasCosignature(size: Int64, witness: String, line: String) throws -> Bool
    /// Keeps a cosignature line.
    func insertCosignature(size: Int64, witness: String, line: String, receivedAt: String) throws
    /// The newest cosignature kept of each witness for `size`, by witness name.
    func cosignatures(size: Int64) throws -> [EventStore.StoredCosignature]
    /// Every cosignature kept, in the order kept.
    func allCosignatures() throws -> [EventStore.StoredCosignature]
    /// The largest size each witness cosigned.
    func cosignedSizes() throws -> [String: Int64]
    /// The newest refusal kept of `witness`.
    func newestRefusal(witness: String) throws -> EventStore.StoredWitnessRefusal?
    /// Keeps a witness's refusal.
    func insertRefusal(_ refusal: EventStore.StoredWitnessRefusal) throws
    /// The refusals kept, oldest first; with `size`, those of that checkpoint only.
    func refusals(size: Int64?) throws -> [EventStore.StoredWitnessRefusal]

    /// The engine, whether it takes writes, and (PostgreSQL) the replica's lag and the writer lease.
    func status() throws -> StoreStatus
    /// The database's own structural check of what it holds; empty when sound.
    func structuralProblems() throws -> [String]
    /// Closes the connection; further use throws.
    func close()
}
