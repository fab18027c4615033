import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// The whole log folded, up to a sequence number or a time (events are appended in time order,
    /// so the fold stops at the first event after `asOfTime`).
    func fold(asOfSeq: Int64?, asOfTime: UTCTimestamp?) throws -> LogState {
        let store = try requireStore()
        let last = min(asOfSeq ?? .max, try store.head().size)
        var state = LogState()
        try forEachEvent(from: 1, through: last, read: { from, through, body in
            try store.forEachRow(from: from, through: through, body)
        }) { event in
            if let asOfTime, event.timestamp > asOfTime { return false }
            try state.apply(event, strict: true)
            return true
        }
        return state
    }

    /// Hands `body` the events the rows `read` gives for the ranges from `first` up to `last`, in order, parsing
    /// the next chunk on other threads while `body` runs; stops early when `body` returns false.
    func forEachEvent(from first: Int64, through last: Int64, read: (Int64, Int64, (StoredRow) throws -> Void) throws -> Void,
                      _ body: (Event) throws -> Bool) throws {
        let chunkSize: Int64 = 4096
        func chunk(_ from: Int64) throws -> AuditChunk? {
            guard from <= last else { return nil }
            var rows: [StoredRow] = []
            try read(from, min(last, from + chunkSize - 1)) { rows.append($0) }
            let c = AuditChunk(rows: rows, checkBytes: false, parallel: parallelFolds)
            c.start()
            return c
        }
        var next = first
        var current = try chunk(next)
        while let c = current {
            next += chunkSize
            let upcoming = try chunk(next)
            for item in c.wait() {
                guard try body(item.get().event) else { return }
            }
            current = upcoming
        }
    }
}
