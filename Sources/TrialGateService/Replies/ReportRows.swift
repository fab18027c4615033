import TrialGateCore

/// A candidate's row of the screening log.
public struct ScreeningLogRow: Codable, Sendable, Equatable {
    /// An investigator's sign-off of the newest decision.
    public struct SignOff: Codable, Sendable, Equatable {
        public var seq: Int64
        public var by: String
        public var printedName: String
        public var at: String
        public var meaning: String
        public var reason: String?

        enum CodingKeys: String, CodingKey { case seq, by, at, meaning, reason, printedName = "printed_name" }
    }

    public var candidate: String
    public var site: String
    public var registeredAt: String
    /// The registration's consent date after corrections (null when none was given).
    public var consentDate: JSONValue
    /// `ScreeningStatus`: withdrawn, pending, stale or the current decision's outcome.
    public var status: String
    public var decisionSeq: Int64?
    public var policy: String?
    public var decidedAt: String?
    public var decisions: Int
    public var failed: [String]
    public var unknown: [String]
    public var needsAttestation: [String]
    /// The newest decision's signature: `valid`, `invalid` or `none`.
    public var signature: String
    /// A withdrawn candidate's CONSORT category (`WithdrawalCategory`), `not_recorded` for a withdrawal recorded before
    /// categories existed; null for a candidate not withdrawn.
    public var withdrawalCategory: String?
    public var withdrawalReason: String?
    public var proposed: String?
    public var standing: String?
    public var staleCauses: [StaleCause]
    public var confirmed: String?
    public var signoff: SignOff?
    public var openQueries: Int

    enum CodingKeys: String, CodingKey {
        case candidate, site, status, policy, decisions, failed, unknown, signature, proposed, standing, confirmed, signoff
        case registeredAt = "registered_at", consentDate = "consent_date", decisionSeq = "decision_seq", decidedAt = "decided_at"
        case needsAttestation = "needs_attestation", withdrawalCategory = "withdrawal_category", withdrawalReason = "withdrawal_reason"
        case staleCauses = "stale_causes", openQueries = "open_queries"
    }
}

/// The CONSORT-style counts of the candidates a report covers.
public struct ReportConsort: Codable, Sendable, Equatable {
    public struct Excluded: Codable, Sendable, Equatable {
        public var total: Int
        public var notMeetingCriteria: Int
        public var byCriterion: [String: Int]
        public var withdrawn: Int

        enum CodingKeys: String, CodingKey { case total, withdrawn, notMeetingCriteria = "not_meeting_criteria", byCriterion = "by_criterion" }
    }

    public struct Proposed: Codable, Sendable, Equatable {
        public var eligible: Int
        public var ineligible: Int
        public var needsReview: Int

        enum CodingKeys: String, CodingKey { case eligible, ineligible, needsReview = "needs_review" }
    }

    public struct Confirmed: Codable, Sendable, Equatable {
        public var eligible: Int
        public var ineligible: Int
    }

    public var assessed: Int
    public var excluded: Excluded
    public var eligible: Int
    public var needsReview: Int
    public var pending: Int
    public var stale: Int
    public var proposed: Proposed
    public var confirmed: Confirmed
    public var awaitingSignoff: Int
    /// The flow diagram: every candidate in exactly one of its terminal boxes.
    public var flow: ReportFlow

    enum CodingKeys: String, CodingKey {
        case assessed, excluded, eligible, pending, stale, proposed, confirmed, flow, needsReview = "needs_review", awaitingSignoff = "awaiting_signoff"
    }
}

/// A criterion's results over the current decisions.
public struct ReportCriterionCounts: Codable, Sendable, Equatable {
    public var id: String
    public var pass: Int
    public var fail: Int
    public var unknown: Int
    public var needsAttestation: Int
    public var skipped: Int

    enum CodingKeys: String, CodingKey { case id, pass, fail, unknown, skipped, needsAttestation = "needs_attestation" }
}

/// A site's counts, screen-failure rate and review queries.
public struct ReportSiteRow: Codable, Sendable, Equatable {
    public struct Queries: Codable, Sendable, Equatable {
        public var open: Int
        public var answered: Int
        public var closed: Int
        public var medianAgeDaysNotClosed: Double?
        public var maxAgeDaysNotClosed: Double?

        enum CodingKeys: String, CodingKey {
            case open, answered, closed, medianAgeDaysNotClosed = "median_age_days_not_closed", maxAgeDaysNotClosed = "max_age_days_not_closed"
        }
    }

    public var site: String
    public var assessed: Int
    public var eligible: Int
    public var ineligible: Int
    public var needsReview: Int
    public var withdrawn: Int
    public var pending: Int
    public var stale: Int
    public var confirmedEligible: Int
    public var confirmedIneligible: Int
    /// Ineligible over decided (null when none was decided), to four places.
    public var screenFailureRate: Double?
    public var queries: Queries

    enum CodingKeys: String, CodingKey {
        case site, assessed, eligible, ineligible, withdrawn, pending, stale, queries, needsReview = "needs_review"
        case confirmedEligible = "confirmed_eligible", confirmedIneligible = "confirmed_ineligible", screenFailureRate = "screen_failure_rate"
    }
}

/// A correction as the report lists it.
public struct ReportCorrectionItem: Codable, Sendable, Equatable {
    public var seq: Int64
    public var timestamp: String
    public var actor: String
    public var candidate: String
    public var corrects: Int64
    public var record: String
    public var field: String
    public var oldValue: JSONValue
    public var newValue: JSONValue
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case seq, timestamp, actor, candidate, corrects, record, field, reason, oldValue = "old_value", newValue = "new_value"
    }
}

extension ScreeningLogRow: BuildsOwnJSON {
    /// The row's encoding, built directly: a report carries one row per candidate (14,300 in the benchmark's), where
    /// going through `JSONValueEncoder` made a report from a snapshot half as slow again. Equal to the `Codable`
    /// encoding (`TypedReplyTests`).
    public var json: JSONValue {
        func number(_ v: Int64?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        func text(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
        func texts(_ v: [String]) -> JSONValue { .array(v.map(JSONValue.string)) }
        let signoff: JSONValue = self.signoff.map { s in
            .object(["seq": .number(Double(s.seq)), "by": .string(s.by), "printed_name": .string(s.printedName), "at": .string(s.at),
                     "meaning": .string(s.meaning), "reason": text(s.reason)])
        } ?? .null
        return .object([
            "candidate": .string(candidate), "site": .string(site), "registered_at": .string(registeredAt), "consent_date": consentDate,
            "status": .string(status), "decision_seq": number(decisionSeq), "policy": text(policy), "decided_at": text(decidedAt),
            "decisions": .number(Double(decisions)), "failed": texts(failed), "unknown": texts(unknown),
            "needs_attestation": texts(needsAttestation), "signature": .string(signature),
            "withdrawal_category": text(withdrawalCategory), "withdrawal_reason": text(withdrawalReason),
            "proposed": text(proposed), "standing": text(standing),
            "stale_causes": .array(staleCauses.map { .object(["seq": .number(Double($0.seq)), "type": .string($0.type.rawValue), "detail": .string($0.detail)]) }),
            "confirmed": text(confirmed), "signoff": signoff, "open_queries": .number(Double(openQueries)),
        ])
    }
}
