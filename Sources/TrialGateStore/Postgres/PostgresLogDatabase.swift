import PostgresNIO
import TrialGateCore

/// A trial's log in a PostgreSQL schema (`tg_<trial>`): the store for a sponsor's many trials on a database its
/// operations team already runs, replicated and backed up with the usual tools.
///
/// Writers of one trial take turns on a transaction-scoped advisory lock (`pg_advisory_xact_lock`), so the hash chain
/// has one order across every process and node; the schema's triggers and the writer role's grants refuse anything
/// but appends (`PostgresSchema`). Commits are durable on return: the server's `fsync` and `synchronous_commit` are
/// read at open, and a store whose commits would not survive a crash is refused.
public final class PostgresLogDatabase: LogDatabase {
    /// Where this trial's log lives.
    public let place: PostgresLocation
    let pg: PostgresConnectionBox
    public var location: String { place.description }
    /// A hot-standby replica: reads only.
    public private(set) var isReadOnly = false
    public private(set) var inTransaction = false

    /// How long (ms) a session may sit idle inside an open transaction before the server ends it. A writer's
    /// transaction never waits on anything but the database, so only a stalled process (stopped, swapping, cut off)
    /// reaches this.
    static let stalledTransactionLimit = 3_000

    private init(_ place: PostgresLocation) throws {
        self.place = place
        self.pg = try PostgresConnectionBox(place)
    }

    /// The advisory-lock key of this trial's writers.
    private var lockKey: String { "trialgate:" + place.schema }

    /// Creates the trial's schema and tables (run by the role that is to own them), and grants the writer role, when
    /// named, exactly `SELECT` and `INSERT` on the log's tables.
    /// - Throws: `store_exists` when the trial's schema is already there.
    static func create(_ place: PostgresLocation, writerRole: String? = nil) throws -> PostgresLogDatabase {
        let database = try PostgresLogDatabase(place)
        try database.checkServer()
        let s = PostgresSchema.quoteIdentifier(place.schema)
        try database.pg.rows("BEGIN", [], "creating the trial \(place.trial)")
        do {
            try database.pg.rows("SELECT pg_advisory_xact_lock(hashtext($1))", [.text(database.lockKey)], "locking the trial")
            let exists = try database.pg.rows("SELECT 1 FROM pg_namespace WHERE nspname = $1", [.text(place.schema)], "looking for the trial")
            if !exists.isEmpty {
                throw TrialGateError(.storeExists, "\(place) already exists (schema \(place.schema)); TrialGate never overwrites a store")
            }
            try database.pg.rows("CREATE SCHEMA \(s)", [], "creating the schema \(place.schema)")
            try database.pg.rows("SET LOCAL search_path = \(s)", [], "entering the schema")
            for m in PostgresSchema.migrations {
                try database.pg.script(m.sql, "applying migration \(m.name)")
                try database.pg.rows("INSERT INTO migrations (name, applied_at) VALUES ($1, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))",
                                     [.text(m.name)], "recording migration \(m.name)")
            }
            if let writerRole {
                guard PostgresLocation.isTrialName(writerRole) || writerRole.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw TrialGateError(.badRequest, "--writer-role: \(writerRole) is not a plain role name; expected letters, digits and _")
                }
                try database.pg.script(PostgresSchema.grants(schema: place.schema, writer: writerRole), "granting \(writerRole) append-only rights")
            }
            try database.pg.rows("COMMIT", [], "creating the trial \(place.trial)")
        } catch {
            _ = try? database.pg.rows("ROLLBACK", [], "rolling back")
            database.close()
            throw error
        }
        try database.enter()
        return database
    }

    /// Opens an existing trial's log.
    /// - Throws: `store_missing` when the trial has no schema, `store_version` when its schema is newer than this build's.
    static func open(_ place: PostgresLocation) throws -> PostgresLogDatabase {
        let database = try PostgresLogDatabase(place)
        do {
            try database.checkServer()
            let exists = try database.pg.rows("SELECT 1 FROM pg_namespace WHERE nspname = $1", [.text(place.schema)], "looking for the trial")
            guard !exists.isEmpty else {
                throw TrialGateError(.storeMissing, "no store at \(place) (run `trialgate init --store '\(place)'` first)")
            }
            try database.enter()
            let applied = try database.pg.rows("SELECT name FROM migrations ORDER BY name", [], "reading the schema version")
                .map { try $0.makeRandomAccess()[0].decode(String.self) }
            let known = PostgresSchema.migrations.map(\.name)
            guard applied == Array(known.prefix(applied.count)), !applied.isEmpty else {
                throw TrialGateError(.storeVersion, "\(place) has migrations \(applied.joined(separator: ", ")); this build knows \(known.joined(separator: ", "))")
            }
            guard applied.count == known.count else {
                throw TrialGateError(.storeVersion, "\(place) has \(applied.count) of this build's \(known.count) migrations; upgrade it with its owner role")
            }
        } catch {
            database.close()
            throw error
        }
        return database
    }

    /// Sets this connection's search path to the trial's schema, and notes whether the server is a read-only replica.
    /// A session that stalls inside a transaction for longer than `stalledTransactionLimit` is ended by the server,
    /// which rolls it back and frees the trial's write lock for the other nodes.
    private func enter() throws {
        try pg.rows("SET search_path = \(PostgresSchema.quoteIdentifier(place.schema))", [], "entering the trial's schema")
        try pg.rows("SET idle_in_transaction_session_timeout = \(Self.stalledTransactionLimit)", [], "bounding a stalled transaction")
        let recovery = try pg.rows("SELECT pg_is_in_recovery()", [], "asking whether the server is a replica")
        isReadOnly = try recovery.first?.makeRandomAccess()[0].decode(Bool.self) ?? false
    }

    /// Refuses a server whose acknowledged commits would not survive a crash, or whose text is not UTF-8 (the
    /// stored bytes of every event must come back exactly as written).
    private func checkServer() throws {
        let settings = try pg.rows("SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('server_encoding')",
                                   [], "reading the server's durability settings")
        guard let row = settings.first?.makeRandomAccess() else { throw TrialGateError(.storeIO, "\(place): no server settings") }
        let (fsync, sync, encoding) = (try row[0].decode(String.self), try row[1].decode(String.self), try row[2].decode(String.self))
        if let problem = Self.serverProblem(fsync: fsync, synchronousCommit: sync, encoding: encoding) {
            throw TrialGateError(.storeIO, "\(place): \(problem)")
        }
    }

    /// Why a server with these settings cannot hold a log (nil: it can): an acknowledged commit must survive a crash
    /// of the server (`fsync`, `synchronous_commit` other than `off`; PG 15, 20.5 "Write Ahead Log"), and text must
    /// come back byte for byte (a UTF-8 database).
    static func serverProblem(fsync: String, synchronousCommit: String, encoding: String) -> String? {
        if fsync != "on" { return "the server runs with fsync=\(fsync); an acknowledged event could be lost in a crash" }
        if synchronousCommit == "off" { return "the server runs with synchronous_commit=off; an acknowledged event could be lost in a crash" }
        if encoding != "UTF8" { return "the database's encoding is \(encoding); a TrialGate store needs UTF8" }
        return nil
    }

    /// The server's `synchronous_commit` (`on` for a durable local commit; `remote_apply` and the like with a
    /// synchronous standby).
    public func synchronousCommit() throws -> String {
        try pg.rows("SELECT current_setting('synchronous_commit')", [], "reading synchronous_commit").first?.makeRandomAccess()[0].decode(String.self) ?? ""
    }

    // MARK: Transactions

    public func checkWritable() throws {}

    public func beginWrite(_ what: String) throws {
        if pg.isClosed {
            // The server ended the session (it restarted, or it ended a writer that stalled inside a transaction past
            // its lease): what that session had not committed is gone, and was never acknowledged.
            try pg.reconnect()
            try enter()
        }
        try pg.rows("BEGIN ISOLATION LEVEL READ COMMITTED", [], what)
        inTransaction = true
        do {
            // Every writer of this trial, on any node, queues here; the lock ends with the transaction.
            try pg.rows("SELECT pg_advisory_xact_lock(hashtext($1))", [.text(lockKey)], "waiting for the trial's write lock")
            if let lease { try holdLease(lease) }
        } catch {
            rollback()
            throw error
        }
    }

    /// The writer lease this node holds when several nodes serve the trial (nil: this process writes without one,
    /// taking turns on the write lock only, as a command-line write does).
    public var lease: WriterLease?

    /// Takes or renews the writer lease inside the write transaction, under the trial's write lock: the check and the
    /// appends commit together or not at all, so a node whose lease another node has taken cannot append or sign,
    /// whatever its own clock says (the lease's time is the server's, `clock_timestamp()`).
    /// - Throws: `not_leader`, naming the node that holds the lease and where to reach it.
    private func holdLease(_ lease: WriterLease) throws {
        let interval = "\(lease.milliseconds) milliseconds"
        guard let (holder, address, epoch, live) = try leaseHolder() else {
            try pg.rows("INSERT INTO writer_lease (node, address, epoch, expires_at) VALUES ($1, $2, 1, clock_timestamp() + $3::interval)",
                        [.text(lease.node), .text(lease.address), .text(interval)], "taking the writer lease")
            return
        }
        if holder == lease.node {
            // This node's lease (taken by this connection, another of this node's connections, or before a restart).
            try pg.rows("UPDATE writer_lease SET expires_at = clock_timestamp() + $1::interval, address = $2", [.text(interval), .text(lease.address)],
                        "renewing the writer lease")
            return
        }
        if live {
            throw TrialGateError(.notLeader, "trial \(place.trial) is written by node \(holder) at \(address) (lease term \(epoch)); send writes there; nothing was written")
        }
        // The lease ran out: a new term.
        try pg.rows("UPDATE writer_lease SET node = $1, address = $2, epoch = epoch + 1, expires_at = clock_timestamp() + $3::interval",
                    [.text(lease.node), .text(lease.address), .text(interval)], "taking over the writer lease")
    }

    /// Who holds the writer lease, if anyone: node, address, term, and whether it is still live.
    public func leaseHolder() throws -> (node: String, address: String, epoch: Int64, live: Bool)? {
        guard let r = try pg.rows("SELECT node, address, epoch, expires_at > clock_timestamp() FROM writer_lease", [], "reading the writer lease")
            .first?.makeRandomAccess() else { return nil }
        return (try r[0].decode(String.self), try r[1].decode(String.self), try r[2].decode(Int64.self), try r[3].decode(Bool.self))
    }

    public func status() throws -> StoreStatus {
        var status = StoreStatus(engine: "postgresql", trial: place.trial, readOnly: isReadOnly, node: lease?.node)
        if let w = try leaseHolder() { status.writer = .init(node: w.node, address: w.address, epoch: w.epoch, live: w.live) }
        if isReadOnly { status.replica = try replicaStatus() }
        return status
    }

    /// The standby's replication state, read on the standby. Without `pg_read_all_stats` a role sees whether a WAL
    /// receiver runs but not its details (PG 15, 28.2.5 `pg_stat_wal_receiver`): `primary` and
    /// `sinceLastMessageMilliseconds` are then nil, and the lag is still measured.
    private func replicaStatus() throws -> StoreStatus.Replica? {
        guard let r = try pg.rows("""
            SELECT pg_is_in_recovery(),
                   coalesce((SELECT pid IS NOT NULL AND coalesce(status, 'streaming') = 'streaming' FROM pg_stat_wal_receiver), false),
                   greatest(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint,
                   CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                        ELSE greatest(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000, 0)::bigint END,
                   to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   (SELECT greatest(extract(epoch FROM clock_timestamp() - last_msg_receipt_time) * 1000, 0)::bigint FROM pg_stat_wal_receiver),
                   (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver)
            """, [], "reading the replica's lag").first?.makeRandomAccess(), try r[0].decode(Bool.self) else { return nil }
        let streaming = try r[1].decode(Bool.self)
        // Without a stream the received position may even fall behind the replayed one (after the primary died):
        // neither difference means anything then.
        return StoreStatus.Replica(streaming: streaming, bytesBehind: streaming ? try r[2].decode(Int64?.self) : nil,
                                   lagMilliseconds: streaming ? try r[3].decode(Int64?.self) : nil, lastReplayedCommitAt: try r[4].decode(String?.self),
                                   sinceLastMessageMilliseconds: try r[5].decode(Int64?.self), primary: try r[6].decode(String?.self))
    }

    public func commit() throws {
        defer { inTransaction = false }
        try pg.rows("COMMIT", [], "committing")
    }

    public func rollback() {
        _ = try? pg.rows("ROLLBACK", [], "rolling back")
        inTransaction = false
    }

    public func savepoint(_ name: String) throws { try pg.rows("SAVEPOINT \(name)", [], "opening a savepoint") }
    public func release(_ name: String) throws { try pg.rows("RELEASE SAVEPOINT \(name)", [], "releasing a savepoint") }
    public func rollback(to name: String) {
        _ = try? pg.rows("ROLLBACK TO SAVEPOINT \(name)", [], "rolling back a savepoint")
        _ = try? pg.rows("RELEASE SAVEPOINT \(name)", [], "rolling back a savepoint")
    }

    public func beginRead() throws {
        try pg.rows("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", [], "starting a read")
        inTransaction = true
    }

    public func endRead() {
        _ = try? pg.rows("COMMIT", [], "ending a read")
        inTransaction = false
    }

    /// What the database can check of itself: the append-only triggers are all in place and enabled, and the
    /// sequence has no gap (a row removed by someone who disabled the triggers).
    public func structuralProblems() throws -> [String] {
        var problems: [String] = []
        let expected = ["events_follow_head", "events_no_change", "events_no_truncate", "merkle_nodes_no_change", "merkle_nodes_no_truncate",
                        "checkpoints_cover_events", "checkpoints_no_change", "checkpoints_no_truncate", "cosignatures_no_change",
                        "cosignatures_no_truncate", "witness_refusals_no_change", "witness_refusals_no_truncate"]
        let present = try pg.rows("""
            SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND NOT t.tgisinternal AND t.tgenabled <> 'D'
            """, [.text(place.schema)], "reading the schema's triggers").map { try $0.makeRandomAccess()[0].decode(String.self) }
        for name in expected where !present.contains(name) {
            problems.append("trigger \(name) is missing or disabled: the table it guards is not append-only")
        }
        let shape = try pg.rows("SELECT count(*), coalesce(max(seq), 0) FROM events", [], "counting events").first?.makeRandomAccess()
        if let shape, try shape[0].decode(Int64.self) != shape[1].decode(Int64.self) {
            problems.append("the events are not numbered 1…\(try shape[1].decode(Int64.self)) without gaps (\(try shape[0].decode(Int64.self)) rows)")
        }
        return problems
    }

    public func close() { pg.close() }

    /// Drops the trial's schema if its log is still empty: what `init` undoes when it fails before the first event.
    /// A trial with even one event is never dropped by TrialGate.
    func dropIfEmpty() throws {
        guard try head().size == 0 else { return }
        try pg.rows("DROP SCHEMA \(PostgresSchema.quoteIdentifier(place.schema)) CASCADE", [], "removing the unfinished trial \(place.trial)")
    }

    /// The trials in the database `place` names (its `tg_` schemas that hold a log), by name.
    public static func trials(_ place: PostgresLocation) throws -> [String] {
        let box = try PostgresConnectionBox(place)
        defer { box.close() }
        return try box.rows("""
            SELECT substr(n.nspname, 4) FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
            WHERE n.nspname LIKE 'tg\\_%' AND c.relname = 'events' AND c.relkind = 'r' ORDER BY 1
            """, [], "listing the trials").map { try $0.makeRandomAccess()[0].decode(String.self) }
    }
}
