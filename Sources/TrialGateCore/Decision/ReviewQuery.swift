/// A review query on a candidate.
public struct ReviewQuery: Sendable, Equatable {
    public enum About: String, Sendable, CaseIterable {
        /// A criterion a decision could not decide (`unknown` or `needs_attestation`).
        case criterion
        /// A decision that became stale.
        case staleDecision = "stale_decision"
        /// A question a monitor or investigator asks.
        case question
    }

    public enum Status: String, Sendable {
        case open, answered, closed
    }

    public struct Answer: Sendable, Equatable {
        public let seq: Int64
        public let timestamp: UTCTimestamp
        public let actor: String
        public let note: String
        public let records: [Int64]
    }

    public let seq: Int64
    public let candidate: String
    public let openedAt: UTCTimestamp
    public let openedBy: String
    public let about: About
    public let criterion: String?
    public let decision: Int64?
    public let text: String
    public internal(set) var answers: [Answer] = []
    public internal(set) var closed: (seq: Int64, timestamp: UTCTimestamp, actor: String, resolution: String)?

    public var status: Status { closed != nil ? .closed : answers.isEmpty ? .open : .answered }

    public static func == (a: ReviewQuery, b: ReviewQuery) -> Bool {
        a.seq == b.seq && a.answers == b.answers && a.closed?.seq == b.closed?.seq
    }

    public var json: JSONValue {
        [
            "seq": .number(Double(seq)), "candidate": .string(candidate), "status": .string(status.rawValue),
            "about": .string(about.rawValue), "criterion": .from(criterion), "decision": .from(decision.map(Int.init)),
            "text": .string(text), "opened_at": .string(openedAt.description), "opened_by": .string(openedBy),
            "answers": .array(answers.map {
                ["seq": .number(Double($0.seq)), "at": .string($0.timestamp.description), "by": .string($0.actor), "note": .string($0.note),
                 "records": .array($0.records.map { .number(Double($0)) })]
            }),
            "closed": closed.map { ["seq": .number(Double($0.seq)), "at": .string($0.timestamp.description), "by": .string($0.actor),
                                    "resolution": .string($0.resolution)] } ?? .null,
        ]
    }
}
