import TrialGateCore

/// `audit-trail`: one page of the audit trail as RFC 4180 CSV with its header (who, what, when, old value, new
/// value, reason), and where the next page starts (null on the last).
public struct AuditTrailReply: ReplyView, Equatable {
    public var csv: String
    public var nextFrom: Int64?

    enum CodingKeys: String, CodingKey { case csv, nextFrom = "next_from" }
}
