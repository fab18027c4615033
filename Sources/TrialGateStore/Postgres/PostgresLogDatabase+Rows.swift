import NIOCore
import PostgresNIO
import TrialGateCore

extension PostgresLogDatabase {
    private static let rowColumns = "seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq"
    /// Rows fetched per round trip when a read walks a range: a whole log is never held in memory at once.
    static let page = 2_000

    private static func row(_ r: PostgresRow) throws -> StoredRow {
        let c = r.makeRandomAccess()
        return StoredRow(seq: try c[0].decode(Int64.self), timestamp: try c[1].decode(String.self), actor: try c[2].decode(String.self),
                         type: try c[3].decode(String.self), candidate: try c[4].decode(String?.self), prevHash: try c[5].decode(String.self),
                         hash: try c[6].decode(String.self), body: Array(try c[7].decode(String.self).utf8),
                         registrationSeq: try c[8].decode(Int64?.self))
    }

    private static func typeArray(_ types: [EventType]) -> PostgresConnectionBox.Value {
        // Type names are this build's own enum values: plain words, safe to list inline.
        .text("{" + types.map(\.rawValue).joined(separator: ",") + "}")
    }

    /// Walks a query page by page: `sql` takes the seq to start after as `$1` and ends with `ORDER BY seq LIMIT n`.
    private func paged(_ sql: (String) -> String, after: Int64, _ values: [PostgresConnectionBox.Value], _ what: String,
                       _ body: (StoredRow) throws -> Bool) throws {
        var last = after
        while true {
            let rows = try pg.rows(sql("LIMIT \(Self.page)"), [.int(last)] + values, what)
            for r in rows {
                let row = try Self.row(r)
                last = row.seq
                guard try body(row) else { return }
            }
            if rows.count < Self.page { return }
        }
    }

    public func head() throws -> LogHead {
        guard let r = try pg.rows("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], "reading the log head").first?.makeRandomAccess() else {
            return LogHead(size: 0, hash: Event.genesisHash)
        }
        return LogHead(size: try r[0].decode(Int64.self), hash: try r[1].decode(String.self))
    }

    public func insertEvent(_ event: Event, body: [UInt8]) throws {
        try pg.rows("""
            INSERT INTO events (seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $4 = 'candidate.registered' THEN $1
                ELSE (SELECT seq FROM events WHERE type = 'candidate.registered' AND candidate = $5) END)
            """, [.int(event.seq), .text(event.timestamp.description), .text(event.actor), .text(event.type.rawValue),
                  event.candidate.map { .text($0) } ?? .null, .text(event.prevHash), .text(event.hash),
                  .text(String(decoding: body, as: UTF8.self))], "appending event \(event.seq)")
    }

    public func forEachRow(from: Int64, through: Int64, _ body: (StoredRow) throws -> Void) throws {
        try paged({ "SELECT \(Self.rowColumns) FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq \($0)" }, after: from - 1,
                  [.int(through)], "reading events") { try body($0); return true }
    }

    public func forEachRow(from: Int64, through: Int64, typesAndCorrected types: [EventType], _ body: (StoredRow) throws -> Void) throws {
        try paged({ """
            SELECT \(Self.rowColumns) FROM events WHERE seq > $1 AND seq <= $2 AND (type = ANY($3::text[])
                OR seq IN (SELECT (body::json #>> '{payload,corrects}')::bigint FROM events WHERE type = 'entry.corrected' AND seq <= $2))
            ORDER BY seq \($0)
            """ }, after: from - 1, [.int(through), Self.typeArray(types)], "reading events by type") { try body($0); return true }
    }

    public func forEachRow(candidate: String, types: [EventType]?, _ body: (StoredRow) throws -> Void) throws {
        let filter = types == nil ? "" : " AND type = ANY($3::text[])"
        try paged({ """
            SELECT \(Self.rowColumns) FROM events
            WHERE seq > $1 AND registration_seq = (SELECT seq FROM events WHERE type = 'candidate.registered' AND candidate = $2)\(filter)
            ORDER BY seq \($0)
            """ }, after: 0, [.text(candidate)] + (types.map { [Self.typeArray($0)] } ?? []), "reading a candidate's events") { try body($0); return true }
    }

    public func forEachRow(types: [EventType], after: Int64, _ body: (StoredRow) throws -> Bool) throws {
        try paged({ "SELECT \(Self.rowColumns) FROM events WHERE seq > $1 AND type = ANY($2::text[]) ORDER BY seq \($0)" },
                  after: after, [Self.typeArray(types)], "reading events by type", body)
    }

    public func firstSeq(after timestamp: String) throws -> Int64? {
        try pg.rows("SELECT min(seq) FROM events WHERE ts > $1", [.text(timestamp)], "finding the log size at a time")
            .first?.makeRandomAccess()[0].decode(Int64?.self)
    }

    public func hash(seq: Int64) throws -> String? {
        try pg.rows("SELECT hash FROM events WHERE seq = $1", [.int(seq)], "reading an event's hash").first?.makeRandomAccess()[0].decode(String.self)
    }

    public func newestEvent(registrationSeq: Int64) throws -> (seq: Int64, hash: String, policySeq: Int64)? {
        guard let r = try pg.rows("""
            SELECT seq, hash, (SELECT coalesce(max(seq), 0) FROM events WHERE type = 'policy.published')
            FROM events WHERE registration_seq = $1 ORDER BY seq DESC LIMIT 1
            """, [.int(registrationSeq)], "reading a candidate's newest event").first?.makeRandomAccess() else { return nil }
        return (try r[0].decode(Int64.self), try r[1].decode(String.self), try r[2].decode(Int64.self))
    }

    public func newestSeq(types: [EventType]) throws -> Int64 {
        try pg.rows("SELECT coalesce(max(seq), 0) FROM events WHERE type = ANY($1::text[])", [Self.typeArray(types)], "finding the newest event of a type")
            .first?.makeRandomAccess()[0].decode(Int64.self) ?? 0
    }

    // MARK: The Merkle tree and checkpoints

    public func insertNode(level: Int, index: Int64, hash: [UInt8]) throws {
        try pg.rows("INSERT INTO merkle_nodes (level, idx, hash) VALUES ($1::integer, $2, $3)", [.int(Int64(level)), .int(index), .bytes(hash)],
                    "extending the Merkle tree")
    }

    public func storedNode(level: Int, index: Int64) throws -> [UInt8]? {
        try pg.rows("SELECT hash FROM merkle_nodes WHERE level = $1 AND idx = $2", [.int(Int64(level)), .int(index)], "reading the Merkle tree")
            .first.map { var b = try $0.makeRandomAccess()[0].decode(ByteBuffer.self); return b.readBytes(length: b.readableBytes) ?? [] }
    }

    public func insertCheckpoint(size: Int64, issuedAt: String, note: String) throws {
        try pg.rows("INSERT INTO checkpoints (size, issued_at, note) VALUES ($1, $2, $3)", [.int(size), .text(issuedAt), .text(note)],
                    "storing the checkpoint of size \(size)")
    }

    private static func checkpoint(_ r: PostgresRow) throws -> EventStore.StoredCheckpoint {
        let c = r.makeRandomAccess()
        return EventStore.StoredCheckpoint(size: try c[0].decode(Int64.self), issuedAt: try c[1].decode(String.self), note: try c[2].decode(String.self))
    }

    public func checkpoints(from: Int64, through: Int64) throws -> [EventStore.StoredCheckpoint] {
        try pg.rows("SELECT size, issued_at, note FROM checkpoints WHERE size BETWEEN $1 AND $2 ORDER BY size", [.int(from), .int(through)],
                    "reading checkpoints").map(Self.checkpoint)
    }

    public func checkpointAtOrBefore(size: Int64) throws -> EventStore.StoredCheckpoint? {
        try pg.rows("SELECT size, issued_at, note FROM checkpoints WHERE size <= $1 ORDER BY size DESC LIMIT 1", [.int(size)],
                    "reading a checkpoint").first.map(Self.checkpoint)
    }

    public func checkpointCount() throws -> Int64 {
        try pg.rows("SELECT count(*) FROM checkpoints", [], "counting checkpoints").first?.makeRandomAccess()[0].decode(Int64.self) ?? 0
    }

    // MARK: Report snapshots

    public func replaceReportSnapshot(_ snapshot: EventStore.StoredReportSnapshot, keep: Int) throws {
        try pg.rows("DELETE FROM report_snapshots WHERE size = $1", [.int(snapshot.size)], "replacing the report snapshot of size \(snapshot.size)")
        try pg.rows("INSERT INTO report_snapshots (size, head, made_at, state, statement, signature) VALUES ($1, $2, $3, $4, $5, $6)",
                    [.int(snapshot.size), .text(snapshot.head), .text(snapshot.madeAt), .bytes(snapshot.state), .text(snapshot.statement),
                     .text(snapshot.signature)], "saving the report snapshot of size \(snapshot.size)")
        try pg.rows("DELETE FROM report_snapshots WHERE size NOT IN (SELECT size FROM report_snapshots ORDER BY size DESC LIMIT $1)",
                    [.int(Int64(keep))], "deleting old report snapshots")
    }

    public func reportSnapshotSizes() throws -> [Int64] {
        try pg.rows("SELECT size FROM report_snapshots ORDER BY size DESC", [], "listing report snapshots").map { try $0.makeRandomAccess()[0].decode(Int64.self) }
    }

    public func reportSnapshot(size: Int64) throws -> EventStore.StoredReportSnapshot? {
        try pg.rows("SELECT size, head, made_at, state, statement, signature FROM report_snapshots WHERE size = $1", [.int(size)],
                    "reading the report snapshot of size \(size)").first.map { r in
            let c = r.makeRandomAccess()
            var state = try c[3].decode(ByteBuffer.self)
            return EventStore.StoredReportSnapshot(size: try c[0].decode(Int64.self), head: try c[1].decode(String.self), madeAt: try c[2].decode(String.self),
                                                   state: state.readBytes(length: state.readableBytes) ?? [], statement: try c[4].decode(String.self),
                                                   signature: try c[5].decode(String.self))
        }
    }

    // MARK: Witnesses

    public func hasCosignature(size: Int64, witness: String, line: String) throws -> Bool {
        try !pg.rows("SELECT 1 FROM cosignatures WHERE size = $1 AND witness = $2 AND line = $3", [.int(size), .text(witness), .text(line)],
                     "reading cosignatures").isEmpty
    }

    public func insertCosignature(size: Int64, witness: String, line: String, receivedAt: String) throws {
        try pg.rows("INSERT INTO cosignatures (size, witness, line, received_at) VALUES ($1, $2, $3, $4)",
                    [.int(size), .text(witness), .text(line), .text(receivedAt)], "storing the cosignature of \(witness) for size \(size)")
    }

    public func cosignatures(size: Int64) throws -> [EventStore.StoredCosignature] {
        try pg.rows("""
            SELECT size, witness, line, received_at FROM cosignatures
            WHERE id IN (SELECT max(id) FROM cosignatures WHERE size = $1 GROUP BY witness) ORDER BY witness COLLATE "C"
            """, [.int(size)], "reading cosignatures").map { r in
            let c = r.makeRandomAccess()
            return EventStore.StoredCosignature(size: try c[0].decode(Int64.self), witness: try c[1].decode(String.self),
                                                line: try c[2].decode(String.self), receivedAt: try c[3].decode(String.self))
        }
    }

    public func allCosignatures() throws -> [EventStore.StoredCosignature] {
        try pg.rows("SELECT size, witness, line, received_at FROM cosignatures ORDER BY id", [], "reading cosignatures").map { r in
            let c = r.makeRandomAccess()
            return EventStore.StoredCosignature(size: try c[0].decode(Int64.self), witness: try c[1].decode(String.self),
                                                line: try c[2].decode(String.self), receivedAt: try c[3].decode(String.self))
        }
    }

    public func cosignedSizes() throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for r in try pg.rows("SELECT witness, max(size) FROM cosignatures GROUP BY witness", [], "reading cosignatures") {
            let c = r.makeRandomAccess()
            out[try c[0].decode(String.self)] = try c[1].decode(Int64.self)
        }
        return out
    }

    private static func refusal(_ r: PostgresRow) throws -> EventStore.StoredWitnessRefusal {
        let c = r.makeRandomAccess()
        return EventStore.StoredWitnessRefusal(size: try c[0].decode(Int64.self), witness: try c[1].decode(String.self), status: Int(try c[2].decode(Int32.self)),
                                               answer: try c[3].decode(String.self), receivedAt: try c[4].decode(String.self))
    }

    public func newestRefusal(witness: String) throws -> EventStore.StoredWitnessRefusal? {
        try pg.rows("SELECT size, witness, status, answer, received_at FROM witness_refusals WHERE witness = $1 ORDER BY id DESC LIMIT 1",
                    [.text(witness)], "reading witness refusals").first.map(Self.refusal)
    }

    public func insertRefusal(_ r: EventStore.StoredWitnessRefusal) throws {
        try pg.rows("INSERT INTO witness_refusals (size, witness, status, answer, received_at) VALUES ($1, $2, $3::integer, $4, $5)",
                    [.int(r.size), .text(r.witness), .int(Int64(r.status)), .text(r.answer), .text(r.receivedAt)],
                    "storing the refusal of \(r.witness) for size \(r.size)")
    }

    public func refusals(size: Int64?) throws -> [EventStore.StoredWitnessRefusal] {
        if let size {
            return try pg.rows("SELECT size, witness, status, answer, received_at FROM witness_refusals WHERE size = $1 ORDER BY id", [.int(size)],
                               "reading witness refusals").map(Self.refusal)
        }
        return try pg.rows("SELECT size, witness, status, answer, received_at FROM witness_refusals ORDER BY id", [], "reading witness refusals").map(Self.refusal)
    }
}
