import TrialGateCore

/// A review query as views show it: what it is about, its text, answers and closing; `queries` adds the
/// candidate's site and the query's age.
public struct QueryView: Codable, Sendable, Equatable {
    public struct Answer: Codable, Sendable, Equatable {
        public var seq: Int64
        public var at: String
        public var by: String
        public var note: String
        public var records: [Int64]
    }

    public struct Closed: Codable, Sendable, Equatable {
        public var seq: Int64
        public var at: String
        public var by: String
        public var resolution: String
    }

    public var seq: Int64
    public var candidate: String
    public var status: String
    public var about: String
    public var criterion: String?
    public var decision: Int64?
    public var text: String
    public var openedAt: String
    public var openedBy: String
    public var answers: [Answer]
    public var closed: Closed?
    /// In `queries`: the candidate's site.
    @OmittedWhenNil public var site: String? = nil
    /// In `queries`: days from opening to closing (or to now, while not closed), to a tenth.
    @OmittedWhenNil public var ageDays: Double? = nil

    enum CodingKeys: String, CodingKey {
        case seq, candidate, status, about, criterion, decision, text, answers, closed, site
        case openedAt = "opened_at", openedBy = "opened_by", ageDays = "age_days"
    }

    public init(_ q: ReviewQuery) {
        (seq, candidate, status, about) = (q.seq, q.candidate, q.status.rawValue, q.about.rawValue)
        (criterion, decision, text, openedAt, openedBy) = (q.criterion, q.decision, q.text, q.openedAt.description, q.openedBy)
        answers = q.answers.map { Answer(seq: $0.seq, at: $0.timestamp.description, by: $0.actor, note: $0.note, records: $0.records) }
        closed = q.closed.map { Closed(seq: $0.seq, at: $0.timestamp.description, by: $0.actor, resolution: $0.resolution) }
    }
}
