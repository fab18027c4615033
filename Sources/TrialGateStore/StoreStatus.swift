import TrialGateCore

/// What a store is and how current it is: the engine, whether it takes writes, and for PostgreSQL the streaming
/// replica's lag behind its primary and the node that holds the writer lease. `head` reports it, and
/// `trialgate status` prints it (`docs/operations.md`).
public struct StoreStatus: Codable, Sendable, Equatable {
    /// `sqlite` or `postgresql`.
    public var engine: String
    /// The trial's name in a PostgreSQL database (nil for an SQLite file, which holds one trial).
    public var trial: String?
    /// Whether every write is refused here (a read-only file, or a replica).
    public var readOnly: Bool
    /// Set when the store is a PostgreSQL hot standby: how far behind its primary it is.
    public var replica: Replica?
    /// The writer lease, when nodes of this trial hold one: who writes now.
    public var writer: Writer?
    /// This process's node name, when it serves as one of several nodes (`serve --node`).
    public var node: String?

    public init(engine: String, trial: String? = nil, readOnly: Bool, replica: Replica? = nil, writer: Writer? = nil, node: String? = nil) {
        (self.engine, self.trial, self.readOnly, self.replica, self.writer, self.node) = (engine, trial, readOnly, replica, writer, node)
    }

    /// A standby's replication state, read from the standby itself (PG 15, 9.27.4 "Recovery Control Functions";
    /// 28.2 `pg_stat_wal_receiver`).
    public struct Replica: Codable, Sendable, Equatable {
        /// Whether WAL is streaming from the primary now. When it is not, nothing new arrives and `lagMilliseconds`
        /// is unknown (nil): the replica cannot tell how far the primary has gone.
        public var streaming: Bool
        /// WAL received and not yet applied, in bytes (0: everything received is visible to reads).
        public var bytesBehind: Int64?
        /// How long ago the newest commit now visible here was made on the primary, when something received is
        /// still to be applied; 0 when everything received is applied; nil when not streaming.
        public var lagMilliseconds: Int64?
        /// When the newest commit visible here was made on the primary (UTC).
        public var lastReplayedCommitAt: String?
        /// How long since the primary last sent anything (nil: never, or not streaming).
        public var sinceLastMessageMilliseconds: Int64?
        /// The primary it streams from (host:port), as the standby was told.
        public var primary: String?

        public init(streaming: Bool, bytesBehind: Int64?, lagMilliseconds: Int64?, lastReplayedCommitAt: String?,
                    sinceLastMessageMilliseconds: Int64?, primary: String?) {
            (self.streaming, self.bytesBehind, self.lagMilliseconds, self.lastReplayedCommitAt, self.sinceLastMessageMilliseconds, self.primary) =
                (streaming, bytesBehind, lagMilliseconds, lastReplayedCommitAt, sinceLastMessageMilliseconds, primary)
        }

        enum CodingKeys: String, CodingKey {
            case streaming, primary
            case bytesBehind = "bytes_behind", lagMilliseconds = "lag_ms", lastReplayedCommitAt = "last_replayed_commit_at"
            case sinceLastMessageMilliseconds = "since_last_message_ms"
        }
    }

    /// The trial's writer lease as the database holds it.
    public struct Writer: Codable, Sendable, Equatable {
        public var node: String
        public var address: String
        /// The lease's term: it grows by one at each takeover.
        public var epoch: Int64
        /// Whether the lease is still live (by the database's clock): if not, the next node to write takes it.
        public var live: Bool

        public init(node: String, address: String, epoch: Int64, live: Bool) {
            (self.node, self.address, self.epoch, self.live) = (node, address, epoch, live)
        }
    }

    enum CodingKeys: String, CodingKey {
        case engine, trial, replica, writer, node
        case readOnly = "read_only"
    }

    /// What does not apply is left out (a replica's own members are always there, null when unknown).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(engine, forKey: .engine)
        try c.encode(readOnly, forKey: .readOnly)
        if let trial { try c.encode(trial, forKey: .trial) }
        if let replica { try c.encode(replica, forKey: .replica) }
        if let writer { try c.encode(writer, forKey: .writer) }
        if let node { try c.encode(node, forKey: .node) }
    }

    /// Why a replica is too far behind to trust for reads (nil: it is not a replica, or it is within `limit` ms): a
    /// replica that is not streaming is always a problem, since how far behind it is cannot be known.
    public func lagProblem(limit: Int64?) -> String? {
        guard let replica else { return nil }
        guard replica.streaming, let lag = replica.lagMilliseconds else {
            return "the replica is not streaming from its primary: what it shows may be any amount behind"
        }
        if let limit, lag > limit { return "the replica is \(lag) ms behind its primary (limit \(limit) ms)" }
        return nil
    }

    /// One line for people: the engine, and the lag or the writer when there is one.
    public var summary: String {
        var parts = [engine + (trial.map { " trial \($0)" } ?? "") + (readOnly ? ", read-only" : "")]
        if let r = replica {
            if !r.streaming {
                parts.append("replica NOT streaming from its primary" + (r.lastReplayedCommitAt.map { " (newest commit here: \($0))" } ?? "") + ": its lag is unknown")
            } else {
                parts.append("replica of \(r.primary ?? "its primary"), lag \(r.lagMilliseconds.map { "\($0) ms" } ?? "unknown"), \(r.bytesBehind ?? 0) bytes of WAL to apply")
            }
        }
        if let w = writer { parts.append("writer node \(w.node) at \(w.address), term \(w.epoch)" + (w.live ? "" : " (lease ran out)")) }
        if let node { parts.append("this node: \(node)") }
        return parts.joined(separator: "; ")
    }
}
