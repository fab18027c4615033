import TrialGateAudit
import TrialGateCore

extension EventStore {
    /// What `copyLog(to:)` moved.
    public struct CopySummary: Sendable, Equatable {
        public let events: Int64
        public let checkpoints: Int
        public let cosignatures: Int
        public let refusals: Int
        public let reportSnapshots: Int
    }

    /// Copies this whole log into `target`, an empty store on any database, in one transaction: every event row as
    /// stored (the same bytes, so the same hashes), the Merkle tree rebuilt from them, and every checkpoint,
    /// cosignature, witness refusal and report snapshot as stored. Nothing is re-signed: the copy's checkpoints and
    /// decisions verify only because the bytes under them are the same.
    /// - Throws: `store_exists` when the target is not empty; whatever the target's database refuses (then nothing is
    ///   written).
    public func copyLog(to target: EventStore) throws -> CopySummary {
        try reading {
            let head = try head()
            let checkpoints = try checkpoints()
            let cosignatures = try database.allCosignatures()
            let refusals = try database.refusals(size: nil)
            let snapshots = try reportSnapshotSizes().reversed().compactMap { try reportSnapshot(size: $0) }
            try target.immediateTransaction("copying the log") {
                guard try target.head().size == 0 else {
                    throw TrialGateError(.storeExists, "\(target.path) already holds events; a log is only copied into an empty store")
                }
                var frontier = MerkleFrontier()
                var pending = checkpoints[...]
                var problem: TrialGateError?
                try forEachRow(from: 1, through: head.size) { row in
                    guard problem == nil else { return }
                    do {
                        try target.database.insertEvent(try row.eventAsStored(), body: row.body)
                    } catch let e as TrialGateError {
                        problem = e
                        return
                    }
                    for n in frontier.appendReturningNodes(leafHash: Merkle.leafHash(row.body)) where n.level >= Self.storedLevelFloor {
                        try target.database.insertNode(level: n.level, index: n.index, hash: n.hash)
                    }
                    while let c = pending.first, c.size == row.seq {
                        try target.database.insertCheckpoint(size: c.size, issuedAt: c.issuedAt, note: c.note)
                        pending.removeFirst()
                    }
                }
                if let problem { throw problem }
                guard frontier.size == head.size, pending.isEmpty else {
                    throw TrialGateError(.storeCorrupt, "\(path): the log's events and checkpoints did not all come through; nothing was copied")
                }
                for c in cosignatures { try target.database.insertCosignature(size: c.size, witness: c.witness, line: c.line, receivedAt: c.receivedAt) }
                for r in refusals { try target.database.insertRefusal(r) }
                for s in snapshots { try target.database.replaceReportSnapshot(s, keep: Self.reportSnapshotsKept) }
            }
            target.frontierCache = nil
            return CopySummary(events: head.size, checkpoints: checkpoints.count, cosignatures: cosignatures.count, refusals: refusals.count,
                               reportSnapshots: snapshots.count)
        }
    }
}
