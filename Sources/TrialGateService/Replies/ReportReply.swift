import TrialGateCore

/// `report` (JSON): what sponsors and regulators look at, from the folded log alone: the screening log, CONSORT-style
/// counts, per-criterion and per-site statistics, time to decision, model scores by outcome and corrections.
public struct ReportReply: ReplyView, Equatable {
    /// The point asked for (null: the head).
    public struct AsOf: Codable, Sendable, Equatable {
        public var seq: Int64?
        public var time: String?
    }

    public struct Filter: Codable, Sendable, Equatable {
        public var site: String?
        public var from: String?
        public var to: String?
    }

    /// A policy in force at some time of the report's period, from its publication until the next one.
    public struct PolicyPeriod: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public var sha256: String
        public var seq: Int64
        public var inForceFrom: String
        public var inForceUntil: String?

        enum CodingKeys: String, CodingKey { case id, version, sha256, seq, inForceFrom = "in_force_from", inForceUntil = "in_force_until" }
    }

    /// The days from registration to the first decision; without any decision, only the count (0).
    public struct Timing: Codable, Sendable, Equatable {
        public var count: Int
        @OmittedWhenNil public var medianDays: Double? = nil
        @OmittedWhenNil public var meanDays: Double? = nil
        @OmittedWhenNil public var maxDays: Double? = nil

        enum CodingKeys: String, CodingKey { case count, medianDays = "median_days", meanDays = "mean_days", maxDays = "max_days" }
    }

    public struct Histogram: Codable, Sendable, Equatable {
        public var bins: [String]
        /// Per outcome, how many current decisions' candidates have a model score in each bin.
        public var byOutcome: [String: [Int]]

        enum CodingKeys: String, CodingKey { case bins, byOutcome = "by_outcome" }
    }

    public struct Corrections: Codable, Sendable, Equatable {
        public var count: Int
        public var byActor: [String: Int]
        public var items: [ReportCorrectionItem]

        enum CodingKeys: String, CodingKey { case count, items, byActor = "by_actor" }
    }

    /// The signed checkpoint a report stands on: the newest at or before the report's point, and whether it checked out.
    public struct CheckpointStatus: Codable, Sendable, Equatable {
        public var size: Int64
        /// The Merkle root it signs (RFC 6962), lower-case hex.
        public var root: String
        public var issuedAt: String
        /// Whether its signature verifies with the trial key in force at its size (from the log's own key history) and
        /// its root is the root of the stored events at its size.
        public var verified: Bool
        /// What was checked, or what did not check out.
        public var detail: String

        enum CodingKeys: String, CodingKey { case size, root, verified, detail, issuedAt = "issued_at" }
    }

    public var asOf: AsOf?
    public var trialID: String?
    public var logSize: Int64
    public var logHead: String
    public var filter: Filter
    public var policies: [PolicyPeriod]
    public var consort: ReportConsort
    /// Candidates with a decision, not withdrawn.
    public var decided: Int
    public var screeningLog: [ScreeningLogRow]
    public var criteria: [ReportCriterionCounts]
    public var sites: [ReportSiteRow]
    public var timeToDecision: Timing
    public var modelScoreHistogram: Histogram
    public var corrections: Corrections
    @OmittedWhenNil public var logWarning: String? = nil
    /// The checkpoint (null: none was issued at or before the report's point).
    public var checkpoint: CheckpointStatus? = nil

    enum CodingKeys: String, CodingKey {
        case filter, policies, consort, decided, criteria, sites, corrections, checkpoint
        case asOf = "as_of", trialID = "trial_id", logSize = "log_size", logHead = "log_head", screeningLog = "screening_log"
        case timeToDecision = "time_to_decision", modelScoreHistogram = "model_score_histogram", logWarning = "log_warning"
    }
}

/// `report` with `format` `csv`: the screening log as RFC 4180 CSV.
public struct ReportCSVReply: ReplyView, Equatable {
    public var csv: String
    @OmittedWhenNil public var logWarning: String? = nil

    enum CodingKeys: String, CodingKey { case csv, logWarning = "log_warning" }
}

/// `report` with `format` `html`: one self-contained page (its warning, if any, is on the page).
public struct ReportHTMLReply: ReplyView, Equatable {
    public var html: String
}
