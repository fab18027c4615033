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

        public init(size: Int64, issuedAt: String, note: String) {
            self.size = size
            self.issuedAt = issuedAt
            self.note = note
        }
    }

    /// Stored checkpoints with sizes in `from ... through`, by size.
    public func checkpoints(from: Int64 = 1, through: Int64 = .max) throws -> [StoredCheckpoint] {
        try database.checkpoints(from: from, through: through)
    }

    /// The stored checkpoint of the largest size at or below `size`, if any.
    public func checkpointAtOrBefore(size: Int64) throws -> StoredCheckpoint? {
        try database.checkpointAtOrBefore(size: size)
    }

    /// The newest stored checkpoint, if any.
    public func latestCheckpoint() throws -> StoredCheckpoint? {
        try database.checkpointAtOrBefore(size: .max)
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
            try database.replaceReportSnapshot(snapshot, keep: Self.reportSnapshotsKept)
        }
    }

    /// The sizes of the saved report snapshots, newest first.
    public func reportSnapshotSizes() throws -> [Int64] {
        try database.reportSnapshotSizes()
    }

    /// The saved report snapshot of exactly `size` events, if any.
    public func reportSnapshot(size: Int64) throws -> StoredReportSnapshot? {
        try database.reportSnapshot(size: size)
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
        let out = try database.storedNode(level: level, index: index)
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

        public init(size: Int64, witness: String, line: String, receivedAt: String) {
            self.size = size
            self.witness = witness
            self.line = line
            self.receivedAt = receivedAt
        }
    }

    /// A witness's refusal of the checkpoint of `size`: its HTTP status and answer.
    public struct StoredWitnessRefusal: Sendable, Equatable {
        public let size: Int64
        public let witness: String
        public let status: Int
        public let answer: String
        public let receivedAt: String

        public init(size: Int64, witness: String, status: Int, answer: String, receivedAt: String) {
            self.size = size
            self.witness = witness
            self.status = status
            self.answer = answer
            self.receivedAt = receivedAt
        }
    }

    /// Keeps a witness's cosignature of the stored checkpoint of `size`. A witness cosigns a checkpoint again, with a
    /// newer time, each time it is resubmitted: each line is kept once.
    /// - Returns: whether it was new.
    @discardableResult
    public func addCosignature(size: Int64, witness: String, line: String, receivedAt: UTCTimestamp) throws -> Bool {
        try immediateTransaction("storing a cosignature") {
            if try database.hasCosignature(size: size, witness: witness, line: line) { return false }
            try database.insertCosignature(size: size, witness: witness, line: line, receivedAt: receivedAt.description)
            return true
        }
    }

    /// The newest cosignature kept of each witness for the checkpoint of `size`, by witness name.
    public func cosignatures(size: Int64) throws -> [StoredCosignature] { try database.cosignatures(size: size) }

    /// Keeps a witness's refusal of the checkpoint of `size` with its HTTP status and answer (cut to 1,024 bytes), unless
    /// the newest refusal kept for that witness is the same size, status and answer: a witness that keeps refusing in
    /// the same words is one record.
    /// - Returns: whether it was new.
    @discardableResult
    public func addWitnessRefusal(size: Int64, witness: String, status: Int, answer: String, receivedAt: UTCTimestamp) throws -> Bool {
        try immediateTransaction("storing a witness's refusal") {
            var cut = answer
            while cut.utf8.count > 1024 { cut.removeLast() }
            if let newest = try database.newestRefusal(witness: witness), newest.size == size, newest.status == status, newest.answer == cut {
                return false
            }
            try database.insertRefusal(StoredWitnessRefusal(size: size, witness: witness, status: status, answer: cut, receivedAt: receivedAt.description))
            return true
        }
    }

    /// The refusals kept, oldest first; with `size`, those of that checkpoint only.
    public func witnessRefusals(size: Int64? = nil) throws -> [StoredWitnessRefusal] { try database.refusals(size: size) }

    /// The largest checkpoint size each witness cosigned, by witness name.
    public func cosignedSizes() throws -> [String: Int64] { try database.cosignedSizes() }
}
