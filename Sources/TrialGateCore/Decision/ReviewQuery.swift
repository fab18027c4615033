/// A review query on a candidate.
public struct ReviewQuery: Sendable, Equatable {
    public enum About: String, Sendable, CaseIterable {
        /// A criterion a decision could not decide (`unknown` or `needs_attestation`).
        case criterion
        /// A decision that became stale.
        case staleDecision = "stale_decision"
        /// A question a monitor or investigator asks.
        case question
    }

    public enum Status: String, Sendable {
        case open, answered, closed
    }

    public struct Answer: Sendable, Equatable {
        public let seq: Int64
        public let timestamp: UTCTimestamp
        public let actor: String
        public let note: String
        public let records: [Int64]
    }

    public let seq: Int64
    public let candidate: String
    public let openedAt: UTCTimestamp
    public let openedBy: String
    public let about: About
    public let criterion: String?
    public let decision: Int64?
    public let text: String
    public internal(set) var answers: [Answer] = []
    public internal(set) var closed: (seq: Int64, timestamp: UTCTimestamp, actor: String, resolution: String)?

    public var status: Status { closed != nil ? .closed : answers.isEmpty ? .open : .answered }

    public static func == (a: ReviewQuery, b: ReviewQuery) -> Bool {
        a.seq == b.seq && a.answers == b.answers && a.closed?.seq == b.closed?.seq
    }
}
