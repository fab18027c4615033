import TrialGateCore

/// `policy.test`: a case table run against a policy: each case's expected and actual outcome, and why it failed.
public struct PolicyTestReply: ReplyView, Equatable {
    public struct Case: Codable, Sendable, Equatable {
        public var name: String
        public var expected: String
        /// The outcome the policy gave; null when the case's records were rejected.
        public var got: String?
        public var ok: Bool
        public var failures: [String]
    }

    public var policy: String
    public var version: String
    public var passed: Int
    public var failed: Int
    public var cases: [Case]
}
