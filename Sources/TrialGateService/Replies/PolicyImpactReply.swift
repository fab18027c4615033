import TrialGateCore

/// `policy.impact`: an amended policy evaluated beside the one in force on every candidate not withdrawn, today;
/// each candidate whose outcome would change, and the criteria that change. Nothing is recorded.
public struct PolicyImpactReply: ReplyView, Equatable {
    public struct InForce: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public var sha256: String
        public var seq: Int64
    }

    public struct Amended: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public var sha256: String
    }

    public struct Change: Codable, Sendable, Equatable {
        public var candidate: String
        public var site: String
        public var from: String
        public var to: String
        public var latestDecision: Int64?
        public var criteria: [CriterionChange]

        enum CodingKeys: String, CodingKey { case candidate, site, from, to, criteria, latestDecision = "latest_decision" }
    }

    /// A criterion whose result changes; `from` is null for a criterion new in the amended policy, `to` for one it drops.
    public struct CriterionChange: Codable, Sendable, Equatable {
        public var id: String
        public var from: String?
        public var to: String?
        public var reason: String
    }

    public var inForce: InForce
    public var amended: Amended
    public var date: String
    public var compared: Int
    public var changed: [Change]

    enum CodingKeys: String, CodingKey { case amended, date, compared, changed, inForce = "in_force" }
}
