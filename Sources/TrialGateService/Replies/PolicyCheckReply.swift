import TrialGateCore

/// `policy.check`: a policy file that loads, with its digest and criteria.
public struct PolicyCheckReply: ReplyView, Equatable {
    public struct Criterion: Codable, Sendable, Equatable {
        public var id: String
        public var kind: String
        public var enabled: Bool
        public var description: String
    }

    public var policy: String
    public var version: String
    public var title: String
    public var sha256: String
    public var criteria: [Criterion]
}
