import TrialGateCore

/// One event about a candidate, as `show` lists it: who did what when; a decision's outcome and policy, a sign-off's
/// statement and signature, or any other event's payload; and, for a record, its corrections and current fields.
public struct HistoryEntry: Codable, Sendable, Equatable {
    /// A correction of a record.
    public struct Correction: Codable, Sendable, Equatable {
        public var seq: Int64
        public var timestamp: String
        public var actor: String
        public var field: String
        public var oldValue: JSONValue
        public var newValue: JSONValue
        public var reason: String

        enum CodingKeys: String, CodingKey { case seq, timestamp, actor, field, reason, oldValue = "old_value", newValue = "new_value" }

        public init(_ k: CorrectionEntry) {
            (seq, timestamp, actor, field) = (k.seq, k.timestamp.description, k.actor, k.field)
            (oldValue, newValue, reason) = (k.oldValue, k.newValue, k.reason)
        }
    }

    public var seq: Int64
    public var timestamp: String
    public var actor: String
    public var type: String
    /// A decision: its outcome and policy, as stored.
    @OmittedWhenNil public var outcome: JSONValue? = nil
    @OmittedWhenNil public var policy: JSONValue? = nil
    /// A sign-off: the statement as signed and the signature.
    @OmittedWhenNil public var statement: JSONValue? = nil
    @OmittedWhenNil public var signature: JSONValue? = nil
    /// Any other event: its payload as stored.
    @OmittedWhenNil public var payload: JSONValue? = nil
    /// A record: its corrections, and its fields after them.
    @OmittedWhenNil public var corrections: [Correction]? = nil
    @OmittedWhenNil public var current: JSONValue? = nil

    /// The entry of `e`, an event of candidate `c`'s fold: a decision and a sign-off as the fold decoded them (it
    /// decodes each of the candidate's, or refuses the log).
    public init(_ e: Event, of c: CandidateState) {
        (seq, timestamp, actor, type) = (e.seq, e.timestamp.description, e.actor, e.type.rawValue)
        switch e.type {
        case .decisionIssued:
            let d = c.decisions.first { $0.seq == e.seq }
            outcome = d?.storedOutcome ?? .null
            policy = d?.storedPolicy ?? .null
        case .decisionSigned:
            let s = c.signOffs.first { $0.seq == e.seq }
            statement = s?.statement ?? .null
            signature = s.map { .string($0.signature) } ?? .null
        default:
            payload = e.payload
        }
        if let record = c.record(seq: e.seq) {
            corrections = record.corrections.map(Correction.init)
            current = record.current
        }
    }
}
