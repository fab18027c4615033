import TrialGateCore

/// A candidate's newest decision as every view shows it (`lifecycle` in `decisions`, `decision` in `show`): current
/// or stale (and why), the decisions it superseded, its sign-off, and the outcome that counts toward enrolment.
public struct DecisionStanding: Codable, Sendable, Equatable {
    /// An investigator's sign-off of the decision.
    public struct SignOffView: Codable, Sendable, Equatable {
        public var seq: Int64
        public var decisionSeq: Int64
        public var meaning: String
        public var outcome: String
        public var signer: String
        public var printedName: String
        public var signedAt: String
        public var reason: String?
        /// What the signature means, in words, as the signed statement says it.
        public var meaningText: String?

        enum CodingKeys: String, CodingKey {
            case seq, meaning, outcome, signer, reason, decisionSeq = "decision_seq", printedName = "printed_name", signedAt = "signed_at"
            case meaningText = "meaning_text"
        }

        public init(_ s: SignOff) {
            (seq, decisionSeq, meaning, outcome) = (s.seq, s.decisionSeq, s.meaning.rawValue, s.meaning.outcome.rawValue)
            (signer, printedName, signedAt, reason) = (s.signer, s.printedName, s.signedAt.description, s.reason)
            meaningText = s.statement["meaning_text"]?.stringValue
        }
    }

    public var decisionSeq: Int64
    /// The outcome the decision proposes, as stored.
    public var proposed: String
    /// `id@version`.
    public var policy: String
    /// `current` or `stale`.
    public var standing: String
    public var staleCauses: [StaleCause]
    /// The candidate's earlier decisions, which this one supersedes.
    public var superseded: [Int64]
    public var signoff: SignOffView?
    /// The outcome an investigator confirmed for the current decision, if any.
    public var confirmed: String?

    enum CodingKeys: String, CodingKey {
        case proposed, policy, standing, superseded, signoff, confirmed, decisionSeq = "decision_seq", staleCauses = "stale_causes"
    }

    /// The newest decision of `c`, nil when it has none.
    public init?(_ c: CandidateState, policies: [PublishedPolicy]) {
        guard let d = c.decisions.last else { return nil }
        let causes = c.staleCauses(policies: policies)
        (decisionSeq, proposed, policy) = (d.seq, d.outcome, d.policyName)
        standing = causes.isEmpty ? "current" : "stale"
        staleCauses = causes
        superseded = c.decisions.dropLast().map(\.seq)
        signoff = c.latestSignOff.map(SignOffView.init)
        confirmed = ScreeningStatus.confirmed(withdrawn: c.isWithdrawn, stale: !causes.isEmpty, signOff: c.latestSignOff)
    }
}
