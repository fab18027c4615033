import TrialGateCore

extension EventStore {
    /// Calls `body` with every stored row from `from` through `through`, in order.
    public func forEachRow(from: Int64 = 1, through: Int64 = .max, _ body: (StoredRow) throws -> Void) throws {
        try database.forEachRow(from: from, through: through, body)
    }

    /// The events from `from` through `through` whose type is one of `types`, and the records that a correction
    /// up to `through` corrects (whatever their type), in log order: what a fold that needs only some kinds of
    /// event reads, without parsing the rest.
    public func forEachRow(from: Int64 = 1, through: Int64 = .max, typesAndCorrected types: [EventType],
                           _ body: (StoredRow) throws -> Void) throws {
        try database.forEachRow(from: from, through: through, typesAndCorrected: types, body)
    }

    /// The size the log had at `time`: the events before the first one stamped later.
    public func size(at time: UTCTimestamp) throws -> Int64 {
        try database.firstSeq(after: time.description).map { $0 - 1 } ?? head().size
    }

    /// The hash of event `seq`, if it exists.
    public func hash(seq: Int64) throws -> String? { try database.hash(seq: seq) }

    /// The sequence number and hash of the newest event of the candidate registered by event `registrationSeq`
    /// (its events are one range of the `registration_seq` index), and the newest policy publication's sequence
    /// number (0: none; a newer policy can make the candidate's decision stale), in one statement; nil when there is
    /// no such candidate.
    public func newestEvent(registrationSeq: Int64) throws -> (seq: Int64, hash: String, policySeq: Int64)? {
        try database.newestEvent(registrationSeq: registrationSeq)
    }

    /// Every event from `from` through `through`, parsed.
    public func events(from: Int64 = 1, through: Int64 = .max) throws -> [Event] {
        var out: [Event] = []
        try forEachRow(from: from, through: through) { out.append(try $0.event()) }
        return out
    }

    /// Every event about one candidate, in order.
    public func events(candidate: String) throws -> [Event] {
        var out: [Event] = []
        try database.forEachRow(candidate: candidate, types: nil) { out.append(try $0.event()) }
        return out
    }

    /// A candidate's events of the given types, in order (uses the candidate index).
    public func events(candidate: String, types: [EventType]) throws -> [Event] {
        var out: [Event] = []
        try database.forEachRow(candidate: candidate, types: types) { out.append(try $0.event()) }
        return out
    }

    /// Every event of the given types after sequence number `after`, in order.
    public func events(types: [EventType], after: Int64 = 0) throws -> [Event] {
        var out: [Event] = []
        try database.forEachRow(types: types, after: after) { out.append(try $0.event()); return true }
        return out
    }

    /// Calls `body` with each event of the given types after sequence number `after`, in order, one at a time,
    /// until it returns false.
    public func forEachEvent(types: [EventType], after: Int64 = 0, _ body: (Event) throws -> Bool) throws {
        try database.forEachRow(types: types, after: after) { try body(try $0.event()) }
    }

    /// The newest seq among events of the given types (0: none), from the type index alone.
    public func newestSeq(types: [EventType]) throws -> Int64 { try database.newestSeq(types: types) }

    /// The event at `seq`, if any.
    public func event(seq: Int64) throws -> Event? { try events(from: seq, through: seq).first }

    /// Runs `body`'s reads in one read transaction, so they all see the log as of one commit (separate statements
    /// would each see the newest commit, and a writer in between would make them disagree). Inside a transaction
    /// already open on this connection, `body` simply runs in it.
    public func reading<T>(_ body: () throws -> T) throws -> T {
        guard !database.inTransaction else { return try body() }
        try database.beginRead()
        defer { database.endRead() }
        return try body()
    }
}
