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
}
