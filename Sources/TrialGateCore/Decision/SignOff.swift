/// An investigator's sign-off as the log holds it.
public struct SignOff: Sendable, Equatable {
    public let seq: Int64
    public let timestamp: UTCTimestamp
    public let signer: String
    public let printedName: String
    public let meaning: SignOffMeaning
    public let reason: String?
    public let decisionSeq: Int64
    public let signedAt: UTCTimestamp
    /// The statement as signed, and the signature (base64).
    public let statement: JSONValue
    public let signature: String

    public var json: JSONValue {
        [
            "seq": .number(Double(seq)), "decision_seq": .number(Double(decisionSeq)), "meaning": .string(meaning.rawValue),
            "outcome": .string(meaning.outcome.rawValue), "signer": .string(signer), "printed_name": .string(printedName),
            "signed_at": .string(signedAt.description), "reason": .from(reason),
            "meaning_text": statement["meaning_text"] ?? .null,
        ]
    }
}
