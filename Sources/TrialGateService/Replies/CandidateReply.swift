import TrialGateCore

/// `show`: a candidate's status, newest decision and its standing, review queries, current facts (as the current
/// clinical model reads them: by observation time, with units), superseded values, and every event about it with
/// its corrections — as of the log's head, or as of an earlier event or time.
public struct CandidateReply: ReplyView, Equatable {
    /// A fact as the current clinical model reads it.
    public struct Fact: Codable, Sendable, Equatable {
        public var value: JSONValue
        public var evidence: [Int64]
        public var observedOn: String?
        @OmittedWhenNil public var unit: String? = nil

        enum CodingKeys: String, CodingKey { case value, evidence, unit, observedOn = "observed_on" }
    }

    /// A value a later one replaced, and why.
    public struct Superseded: Codable, Sendable, Equatable {
        public var fact: String
        public var value: JSONValue
        public var seq: Int64
        public var observedOn: String?
        public var bySeq: Int64
        public var why: String
        @OmittedWhenNil public var unit: String? = nil

        enum CodingKeys: String, CodingKey { case fact, value, seq, why, unit, observedOn = "observed_on", bySeq = "by_seq" }
    }

    /// The point the view was taken at: the event or time asked for (null: the head), and the candidate's newest
    /// event up to it.
    public struct AsOf: Codable, Sendable, Equatable {
        public var seq: Int64?
        public var time: String?
        public var lastSeq: Int64

        enum CodingKeys: String, CodingKey { case seq, time, lastSeq = "last_seq" }
    }

    /// The withdrawal: its CONSORT category (`WithdrawalCategory`; absent for one recorded before categories existed)
    /// and the reason in words, if given.
    public struct Withdrawal: Codable, Sendable, Equatable {
        public var seq: Int64
        @OmittedWhenNil public var category: String? = nil
        @OmittedWhenNil public var reason: String? = nil
        public var timestamp: String
        public var actor: String
    }

    public var candidate: String
    public var site: String
    public var registeredSeq: Int64
    public var status: String
    /// The newest decision's standing; null before the first decision.
    public var decision: DecisionStanding?
    public var queries: [QueryView]
    public var facts: [String: Fact]
    public var superseded: [Superseded]
    public var history: [HistoryEntry]
    public var asOf: AsOf
    @OmittedWhenNil public var withdrawal: Withdrawal? = nil
    @OmittedWhenNil public var logWarning: String? = nil

    enum CodingKeys: String, CodingKey {
        case candidate, site, status, decision, queries, facts, superseded, history, withdrawal
        case registeredSeq = "registered_seq", asOf = "as_of", logWarning = "log_warning"
    }
}
