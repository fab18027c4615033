import CSQLite
import TrialGateAudit
import TrialGateCore

extension EventStore {
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

    /// The stored checkpoint of the largest size at or below `size`, if any.
    public func checkpointAtOrBefore(size: Int64) throws -> StoredCheckpoint? {
        var out: StoredCheckpoint?
        try db.query("SELECT size, issued_at, note FROM checkpoints WHERE size <= ? ORDER BY size DESC LIMIT 1", [.int(size)],
                     "reading a checkpoint") { s in out = Self.checkpointRow(s) }
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

    /// A witness's cosignature of the checkpoint of `size`: its note signature line, as the witness returned it.
    public struct StoredCosignature: Sendable, Equatable {
        public let size: Int64
        public let witness: String
        public let line: String
        public let receivedAt: String
    }

    /// A witness's refusal of the checkpoint of `size`: its HTTP status and answer.
    public struct StoredWitnessRefusal: Sendable, Equatable {
        public let size: Int64
        public let witness: String
        public let status: Int
        public let answer: String
        public let receivedAt: String
    }

    /// Keeps a witness's cosignature of the stored checkpoint of `size`. A witness cosigns a checkpoint again, with a
    /// newer time, each time it is resubmitted: each line is kept once.
    /// - Returns: whether it was new.
    @discardableResult
    public func addCosignature(size: Int64, witness: String, line: String, receivedAt: UTCTimestamp) throws -> Bool {
        try immediateTransaction("storing a cosignature") {
            var known = false
            try db.query("SELECT 1 FROM cosignatures WHERE size = ? AND witness = ? AND line = ?", [.int(size), .text(witness), .text(line)], "reading cosignatures") { _ in
                known = true
            }
            if known { return false }
            try db.run("INSERT INTO cosignatures (size, witness, line, received_at) VALUES (?, ?, ?, ?)",
                       [.int(size), .text(witness), .text(line), .text(receivedAt.description)], "storing the cosignature of \(witness) for size \(size)")
            return true
        }
    }

    /// The newest cosignature kept of each witness for the checkpoint of `size`, by witness name.
    public func cosignatures(size: Int64) throws -> [StoredCosignature] {
        var out: [StoredCosignature] = []
        try db.query("""
            SELECT size, witness, line, received_at FROM cosignatures
            WHERE id IN (SELECT max(id) FROM cosignatures WHERE size = ? GROUP BY witness) ORDER BY witness
            """, [.int(size)], "reading cosignatures") { s in
            out.append(StoredCosignature(size: sqlite3_column_int64(s, 0), witness: SQLiteConnection.text(s, 1) ?? "", line: SQLiteConnection.text(s, 2) ?? "",
                                         receivedAt: SQLiteConnection.text(s, 3) ?? ""))
        }
        return out
    }

    /// Keeps a witness's refusal of the checkpoint of `size` with its HTTP status and answer (cut to 1,024 bytes), unless
    /// the newest refusal kept for that witness is the same size, status and answer: a witness that keeps refusing in
    /// the same words is one record.
    /// - Returns: whether it was new.
    @discardableResult
    public func addWitnessRefusal(size: Int64, witness: String, status: Int, answer: String, receivedAt: UTCTimestamp) throws -> Bool {
        try immediateTransaction("storing a witness's refusal") {
            var same = false
            var cut = answer
            while cut.utf8.count > 1024 { cut.removeLast() }
            try db.query("SELECT size, status, answer FROM witness_refusals WHERE witness = ? ORDER BY id DESC LIMIT 1", [.text(witness)], "reading witness refusals") { s in
                same = sqlite3_column_int64(s, 0) == size && sqlite3_column_int64(s, 1) == Int64(status) && SQLiteConnection.text(s, 2) == cut
            }
            if same { return false }
            try db.run("INSERT INTO witness_refusals (size, witness, status, answer, received_at) VALUES (?, ?, ?, ?, ?)",
                       [.int(size), .text(witness), .int(Int64(status)), .text(cut), .text(receivedAt.description)],
                       "storing the refusal of \(witness) for size \(size)")
            return true
        }
    }

    /// The refusals kept, oldest first; with `size`, those of that checkpoint only.
    public func witnessRefusals(size: Int64? = nil) throws -> [StoredWitnessRefusal] {
        var out: [StoredWitnessRefusal] = []
        let (sql, args): (String, [SQLiteValue]) = size.map { ("SELECT size, witness, status, answer, received_at FROM witness_refusals WHERE size = ? ORDER BY id", [.int($0)]) }
            ?? ("SELECT size, witness, status, answer, received_at FROM witness_refusals ORDER BY id", [])
        try db.query(sql, args, "reading witness refusals") { s in
            out.append(StoredWitnessRefusal(size: sqlite3_column_int64(s, 0), witness: SQLiteConnection.text(s, 1) ?? "", status: Int(sqlite3_column_int64(s, 2)),
                                            answer: SQLiteConnection.text(s, 3) ?? "", receivedAt: SQLiteConnection.text(s, 4) ?? ""))
        }
        return out
    }

    /// The largest checkpoint size each witness cosigned, by witness name.
    public func cosignedSizes() throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        try db.query("SELECT witness, max(size) FROM cosignatures GROUP BY witness", [], "reading cosignatures") { s in
            out[SQLiteConnection.text(s, 0) ?? ""] = sqlite3_column_int64(s, 1)
        }
        return out
    }
}
