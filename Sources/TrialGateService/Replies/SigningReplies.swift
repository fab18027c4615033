import TrialGateCore

/// `signoff.prepare`: the statement an investigator is to sign (its RFC 8785 bytes, `signed_bytes`, are what is
/// signed), what it means in words, and the decision it signs off, as that decision was signed.
public struct SignOffPrepareReply: ReplyView, Equatable {
    /// The statement, carried as it is: the signer signs exactly these members.
    public var statement: JSONValue
    public var signedBytes: String
    public var meaningText: String?
    /// The decision as signed by the trial key.
    public var decision: JSONValue

    enum CodingKeys: String, CodingKey { case statement, decision, signedBytes = "signed_bytes", meaningText = "meaning_text" }
}

/// `attest.prepare`: the attestation statement an investigator is to sign, and its RFC 8785 text.
public struct AttestPrepareReply: ReplyView, Equatable {
    public var statement: JSONValue
    public var signedBytes: String

    enum CodingKeys: String, CodingKey { case statement, signedBytes = "signed_bytes" }
}

/// The members of a sign-off or attestation statement a signer checks before signing it (the statement itself is
/// signed as it is, never re-encoded from these).
public struct StatementSummary: Codable, Sendable, Equatable {
    public struct Signer: Codable, Sendable, Equatable {
        public var user: String?
        public var printedName: String?
        public var keyID: String?

        enum CodingKeys: String, CodingKey { case user, printedName = "printed_name", keyID = "key_id" }
    }

    public struct DecisionRef: Codable, Sendable, Equatable {
        public var seq: Int64?
    }

    public var candidate: String?
    /// A sign-off: the decision it signs off.
    public var decision: DecisionRef?
    /// An attestation: the criterion attested.
    public var criterion: String?
    public var signer: Signer?
    public var signedAt: String?
    public var meaningText: String?

    enum CodingKeys: String, CodingKey { case candidate, decision, criterion, signer, signedAt = "signed_at", meaningText = "meaning_text" }

    /// The summary of `statement`.
    /// - Throws: `TrialGateError` naming the member that is not what a statement holds.
    public init(of statement: JSONValue) throws {
        self = try JSONValueDecoder(context: "statement").decode(StatementSummary.self, from: statement)
    }
}
