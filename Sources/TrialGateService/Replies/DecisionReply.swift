import TrialGateCore

/// `decide`: the decision issued (event `seq`, leaf `log_index`), as signed, with its signature, and the review
/// queries it opened in the same commit (one per criterion it could not decide).
public struct DecisionReply: ReplyView, Equatable {
    public var seq: Int64
    public var logIndex: Int64
    public var hash: String
    public var outcome: String
    public var decision: DecisionDocument
    /// The trial key's Ed25519 signature of the decision's RFC 8785 bytes, base64.
    public var signature: String
    public var queriesOpened: [Int64]

    enum CodingKeys: String, CodingKey {
        case seq, hash, outcome, decision, signature, logIndex = "log_index", queriesOpened = "queries_opened"
    }
}

extension DecisionReply {
    /// The reply's encoding, built directly (see `DecisionDocument.json`); equal to the `Codable` encoding.
    public var json: JSONValue {
        .object([
            "seq": .number(Double(seq)), "log_index": .number(Double(logIndex)), "hash": .string(hash), "outcome": .string(outcome),
            "decision": decision.json, "signature": .string(signature),
            "queries_opened": .array(queriesOpened.map { .number(Double($0)) }),
        ])
    }
}
