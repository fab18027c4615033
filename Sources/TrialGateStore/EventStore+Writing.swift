import TrialGateAudit
import TrialGateCore

extension EventStore {
    /// Runs `body` inside one write transaction (SQLite: `BEGIN IMMEDIATE … COMMIT`).
    ///
    /// Returns after the commit is durable; if `body` throws or the commit fails, everything it appended is
    /// rolled back and the error is rethrown.
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        do {
            var txn: WriteTransaction?
            let result = try immediateTransaction("starting a write") { () throws -> T in
                let t = WriteTransaction(store: self, head: try head())
                txn = t
                return try body(t)
            }
            frontierCache = txn.flatMap { t in t.committedFrontier.map { (t.head.size, t.head.hash, $0) } }
            lastCommittedHead = txn?.head
            lastCommittedCheckpoint = txn?.checkpointNote
            return result
        } catch {
            frontierCache = nil
            throw error
        }
    }

    /// Runs `body` in one write transaction that excludes every other writer, so writers across processes take
    /// turns. Refused on a read-only store or one deleted or replaced under it; rolled back when `body` or the commit
    /// fails. Returns after the commit is durable.
    func immediateTransaction<T>(_ what: String, _ body: () throws -> T) throws -> T {
        if database.isReadOnly {
            throw TrialGateError(.storeReadonly, "\(path) cannot be written (read-only file, filesystem or database); nothing was written")
        }
        try database.checkWritable()
        try database.beginWrite(what)
        do {
            let result = try body()
            try database.commit()
            // Deleted or replaced during the commit: what was written is not in the store others will open,
            // so it must not be acknowledged.
            try database.checkWritable()
            return result
        } catch {
            database.rollback()
            throw error
        }
    }

    /// The handle a write runs with: the head as of the lock, and `append`.
    public final class WriteTransaction {
        private let store: EventStore
        /// The log head, advanced by each append.
        public private(set) var head: LogHead
        /// The events appended so far in this transaction.
        public private(set) var appended: [Event] = []
        /// The tree's right border as of `head`, once an append needed it.
        private var frontier: MerkleFrontier?
        /// The size of the newest checkpoint this transaction stored (-1: none yet).
        public private(set) var checkpointedSize: Int64 = -1
        /// The note of the newest checkpoint this transaction stored.
        public private(set) var checkpointNote: String?

        init(store: EventStore, head: LogHead) {
            self.store = store
            self.head = head
        }

        private var savepoints = 0

        /// Runs `body` under a savepoint: if it throws, only its own appends are undone and the
        /// transaction goes on. This is how a batch of commands shares one durable commit.
        public func savepoint<T>(_ body: () throws -> T) throws -> T {
            savepoints += 1
            let name = "sp\(savepoints)"
            let (savedHead, savedCount, savedCheckpoint, savedFrontier, savedNote) = (head, appended.count, checkpointedSize, frontier, checkpointNote)
            try store.database.savepoint(name)
            do {
                let result = try body()
                try store.database.release(name)
                savepoints -= 1
                return result
            } catch {
                store.database.rollback(to: name)
                savepoints -= 1
                head = savedHead
                checkpointedSize = savedCheckpoint
                checkpointNote = savedNote
                frontier = savedFrontier
                appended.removeSubrange(savedCount...)
                throw error
            }
        }

        /// Inserts a sealed event that must follow the current head, and extends the Merkle tree with its leaf.
        /// - Parameter canonicalBody: the event's RFC 8785 body when the caller already has it (from
        ///   `HashChain.sealWithBody`); it must be `event.canonicalBody`.
        public func append(_ event: Event, canonicalBody: [UInt8]? = nil) throws {
            guard event.seq == head.size + 1, event.prevHash == head.hash else {
                throw TrialGateError(.storeChain, "event \(event.seq) does not follow the log head \(head.size)")
            }
            let body = canonicalBody ?? event.canonicalBody
            assert(body == event.canonicalBody, "canonicalBody is not the event's canonical body")
            try store.database.insertEvent(event, body: body)
            if store.maintainsMerkleTree {
                // Leaf index = seq - 1. Only the leaf and the parents it completes are new; of those, subtrees of
                // 16 leaves or more are stored. The right border of the tree (one hash per level) is kept in memory.
                try loadFrontier()
                for n in frontier!.appendReturningNodes(leafHash: Merkle.leafHash(body)) where n.level >= EventStore.storedLevelFloor {
                    try store.database.insertNode(level: n.level, index: n.index, hash: n.hash)
                }
            }
            head = LogHead(size: event.seq, hash: event.hash)
            appended.append(event)
        }

        private func loadFrontier() throws {
            guard frontier == nil else { return }
            if let c = store.frontierCache, c.size == head.size, c.hash == head.hash {
                frontier = c.frontier
            } else {
                frontier = try MerkleFrontier(size: head.size, nodes: store)
            }
        }

        /// Takes a border checked against the stored bytes (`frontierCheckingTail`) as this transaction's, before its
        /// first append, so that what it appends extends exactly the tree the newest checkpoint signed.
        public func adopt(_ checked: MerkleFrontier) {
            if appended.isEmpty, checked.size == head.size { frontier = checked }
        }

        /// The Merkle root of the log as this transaction leaves it.
        public func treeRoot() throws -> [UInt8] {
            try loadFrontier()
            return frontier!.root
        }

        /// The right border, for the store to keep after a commit.
        var committedFrontier: MerkleFrontier? { frontier }

        /// Stores a signed checkpoint of the first `size` events.
        public func addCheckpoint(size: Int64, issuedAt: UTCTimestamp, note: String) throws {
            try store.database.insertCheckpoint(size: size, issuedAt: issuedAt.description, note: note)
            checkpointedSize = size
            checkpointNote = note
        }
    }
}
