import TrialGateCore

/// `decisions`: issued decisions in log order, filtered, one page at a time: `next_after` is where the next page
/// starts (null on the last page).
public struct DecisionsReply: ReplyView, Equatable {
    /// One decision. Its site, outcome, time, author, policy and criterion ids are the stored decision's own members,
    /// shown as stored (a forged log's are shown as they are, whatever their type; `verify` says what is wrong).
    public struct Row: Codable, Sendable, Equatable {
        public var seq: Int64
        public var candidate: String?
        public var site: JSONValue
        public var outcome: JSONValue
        public var decidedAt: JSONValue
        public var decidedBy: JSONValue
        /// The policy as the signed decision names it (`id`, `version`, `sha256`).
        public var policy: JSONValue
        public var failed: [JSONValue]
        public var unknown: [JSONValue]
        public var needsAttestation: [JSONValue]
        /// `current`, `stale` or `superseded`.
        public var standing: String
        /// A superseded decision: the candidate's next decision (the reply's `superseded_by`).
        public var supersededBy: Int64?
        /// Any other: the candidate's newest decision's standing (the reply's `lifecycle`).
        public var lifecycle: DecisionStanding?

        enum CodingKeys: String, CodingKey {
            case seq, candidate, site, outcome, policy, failed, unknown, standing, lifecycle
            case decidedAt = "decided_at", decidedBy = "decided_by", needsAttestation = "needs_attestation", supersededBy = "superseded_by"
        }

        public init(seq: Int64, candidate: String?, decision d: JSONValue, standing: String, supersededBy: Int64?, lifecycle: DecisionStanding?) {
            let criteria = d["criteria"]?.arrayValue ?? []
            func ids(_ result: String) -> [JSONValue] { criteria.filter { $0["result"]?.stringValue == result }.compactMap { $0["id"] } }
            (self.seq, self.candidate, site, outcome) = (seq, candidate, d["site"] ?? .null, d["outcome"] ?? .null)
            (decidedAt, decidedBy, policy) = (d["decided_at"] ?? .null, d["decided_by"] ?? .null, d["policy"] ?? .null)
            (failed, unknown, needsAttestation) = (ids("fail"), ids("unknown"), ids("needs_attestation"))
            (self.standing, self.supersededBy, self.lifecycle) = (standing, supersededBy, lifecycle)
        }

        /// `superseded_by` for a superseded decision, `lifecycle` for any other (null when there is none).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(seq, forKey: .seq)
            try c.encodeIfPresent(candidate, forKey: .candidate)
            try c.encode(site, forKey: .site)
            try c.encode(outcome, forKey: .outcome)
            try c.encode(decidedAt, forKey: .decidedAt)
            try c.encode(decidedBy, forKey: .decidedBy)
            try c.encode(policy, forKey: .policy)
            try c.encode(failed, forKey: .failed)
            try c.encode(unknown, forKey: .unknown)
            try c.encode(needsAttestation, forKey: .needsAttestation)
            try c.encode(standing, forKey: .standing)
            if standing == "superseded" {
                try c.encodeIfPresent(supersededBy, forKey: .supersededBy)
            } else {
                try c.encodeIfPresent(lifecycle, forKey: .lifecycle)
            }
        }
    }

    public var decisions: [Row]
    public var count: Int
    public var nextAfter: Int64?

    enum CodingKeys: String, CodingKey { case decisions, count, nextAfter = "next_after" }
}
