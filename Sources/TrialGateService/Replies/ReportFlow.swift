import TrialGateCore

/// A report's CONSORT flow diagram (CONSORT 2010, Schulz et al., BMJ 2010;340:c332, figure 1, its enrolment part):
/// assessed for eligibility → excluded, not yet decided or withdrawn during assessment, or eligible → withdrawn after
/// being found eligible, awaiting an investigator, overridden, or confirmed eligible.
///
/// Every candidate lands in exactly one terminal box, so `assessed` = `excluded.total` + `undecided.total` +
/// `withdrawnBeforeEligible.total` + `eligible.total`, and `eligible.total` = `withdrawnAfterEligible.total` +
/// `awaitingSignoff` + `overriddenIneligible` + `confirmedEligible`.
public struct ReportFlow: Codable, Sendable, Equatable {
    /// Current ineligible decisions (a terminal box), with the criteria that failed.
    public struct Excluded: Codable, Sendable, Equatable {
        /// Candidates, each counted once however many criteria it failed.
        public var total: Int
        /// Per criterion, the excluded candidates that failed it: these may sum above `total`.
        public var byCriterion: [String: Int]
        /// Of `total`, those that failed more than one criterion.
        public var failedMoreThanOne: Int
        /// Of `total`, those an investigator confirmed ineligible.
        public var confirmed: Int
        /// Of `total`, those an investigator overrode to eligible.
        public var overriddenEligible: Int

        enum CodingKeys: String, CodingKey {
            case total, confirmed
            case byCriterion = "by_criterion", failedMoreThanOne = "failed_more_than_one", overriddenEligible = "overridden_eligible"
        }
    }

    /// Candidates still being assessed (a terminal box): no decision yet, a decision that needs review, or a stale one.
    public struct Undecided: Codable, Sendable, Equatable {
        public var total: Int
        public var noDecision: Int
        public var needsReview: Int
        public var stale: Int

        enum CodingKeys: String, CodingKey { case total, stale, noDecision = "no_decision", needsReview = "needs_review" }
    }

    /// Withdrawals at one stage (a terminal box), by CONSORT category (`WithdrawalCategory` codes; `not_recorded` for
    /// a withdrawal recorded before categories existed).
    public struct Withdrawn: Codable, Sendable, Equatable {
        public var total: Int
        public var byCategory: [String: Int]

        enum CodingKeys: String, CodingKey { case total, byCategory = "by_category" }
    }

    public var assessed: Int
    public var excluded: Excluded
    public var undecided: Undecided
    /// Withdrawn before a current eligible decision: with no decision, or after one that was not (or no longer) eligible.
    public var withdrawnBeforeEligible: Withdrawn
    /// Found eligible: a current eligible decision, or a withdrawal that followed one.
    public var eligible: Int
    /// Withdrawn while their eligible decision was current.
    public var withdrawnAfterEligible: Withdrawn
    public var awaitingSignoff: Int
    /// An investigator signed the eligible decision as ineligible.
    public var overriddenIneligible: Int
    public var confirmedEligible: Int

    enum CodingKeys: String, CodingKey {
        case assessed, excluded, undecided, eligible
        case withdrawnBeforeEligible = "withdrawn_before_eligible", withdrawnAfterEligible = "withdrawn_after_eligible"
        case awaitingSignoff = "awaiting_signoff", overriddenIneligible = "overridden_ineligible", confirmedEligible = "confirmed_eligible"
    }
}

/// The terminal box of a report's flow diagram a candidate lands in.
enum FlowBox: Equatable {
    case excluded
    case noDecision, needsReview, stale
    case withdrawnBeforeEligible(String)
    case withdrawnAfterEligible(String)
    case awaitingSignoff, overriddenIneligible, confirmedEligible
}
