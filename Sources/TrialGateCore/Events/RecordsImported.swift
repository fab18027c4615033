/// A `records.imported` payload: the file a bulk import read (its name as given, its SHA-256, its data rows) and the
/// events its rows became, `first_seq` … `last_seq`, which end just before this event in the same commit.
public struct RecordsImported: Sendable, Equatable {
    public let file: String
    /// Lower-case hex SHA-256 of the file's bytes, exactly as read.
    public let sha256: String
    public let rows: Int
    public let firstSeq: Int64
    public let lastSeq: Int64

    public init(file: String, sha256: String, rows: Int, firstSeq: Int64, lastSeq: Int64) {
        (self.file, self.sha256, self.rows, self.firstSeq, self.lastSeq) = (file, sha256, rows, firstSeq, lastSeq)
    }

    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: "records.imported")
        file = try r.string("file")
        sha256 = try r.string("sha256")
        rows = try r.integer("rows")
        firstSeq = Int64(try r.integer("first_seq"))
        lastSeq = Int64(try r.integer("last_seq"))
        try r.finish()
    }

    /// The payload, as `init(payloadOf:)` reads it.
    public var payload: JSONValue {
        ["file": .string(file), "sha256": .string(sha256), "rows": .number(Double(rows)),
         "first_seq": .number(Double(firstSeq)), "last_seq": .number(Double(lastSeq))]
    }
}

extension LogState {
    /// A `records.imported` event: about no candidate, in an initialised trial, from event schema 3; a file name of
    /// plain text, a SHA-256, and a range of events that ends right before it, with at least one event per row.
    static func checkImport(_ event: Event, against state: LogState) throws {
        let at = "event \(event.seq) (records.imported)"
        guard event.candidate == nil, state.trial != nil else {
            throw TrialGateError(.invalidEvent, "\(at): an import is recorded in an initialised trial, about no candidate")
        }
        guard event.schemaVersion >= 3 else {
            throw TrialGateError(.invalidEvent, "event \(event.seq): records.imported does not exist in event schema \(event.schemaVersion)")
        }
        let p = try RecordsImported(payloadOf: event)
        if let why = SignedText.problem(p.file, maxLength: 255, multiline: false) {
            throw TrialGateError(.invalidEvent, "\(at): file must be \(why)")
        }
        guard RecordSchema.isSHA256Hex(p.sha256) else { throw TrialGateError(.invalidEvent, "\(at): sha256 must be 64 lower-case hex digits") }
        guard p.rows >= 1, p.firstSeq >= 1, p.lastSeq == event.seq - 1, p.lastSeq - p.firstSeq + 1 >= Int64(p.rows) else {
            throw TrialGateError(.invalidEvent, "\(at): rows \(p.rows) must be ≥ 1 and events \(p.firstSeq)…\(p.lastSeq) must end right before it, one or more per row")
        }
    }
}
