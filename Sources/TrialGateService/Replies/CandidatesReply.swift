import TrialGateCore

/// `candidates`: registered candidates in registration order, filtered by site and status, one page at a time:
/// `next_after` is the registration seq the next page starts after (null on the last page).
public struct CandidatesReply: ReplyView, Equatable {
    public struct Row: Codable, Sendable, Equatable {
        public var candidate: String
        public var site: String
        /// `pending`, `eligible`, `ineligible`, `needs_review`, `stale` or `withdrawn` (as `show` and the report say).
        public var status: String
        public var registeredSeq: Int64
        public var registeredAt: String
        /// The newest decision, if any: its seq and outcome, and the outcome an investigator confirmed while it is current.
        public var decisionSeq: Int64?
        public var outcome: String?
        public var confirmed: String?
        public var withdrawnSeq: Int64?

        enum CodingKeys: String, CodingKey {
            case candidate, site, status, outcome, confirmed
            case registeredSeq = "registered_seq", registeredAt = "registered_at", decisionSeq = "decision_seq", withdrawnSeq = "withdrawn_seq"
        }
    }

    public var candidates: [Row]
    public var nextAfter: Int64?

    enum CodingKeys: String, CodingKey {
        case candidates, nextAfter = "next_after"
    }
}
