import TrialGateCore

/// `queries`: review queries in the order they were opened, with their site and age, and how many there are of each
/// status.
public struct QueriesReply: ReplyView, Equatable {
    public struct ByStatus: Codable, Sendable, Equatable {
        public var open: Int
        public var answered: Int
        public var closed: Int
    }

    public var queries: [QueryView]
    public var count: Int
    public var byStatus: ByStatus

    enum CodingKeys: String, CodingKey { case queries, count, byStatus = "by_status" }
}
