import TrialGateCore

extension DecisionSummary {
    /// The hex SHA-256 of the decision's signed bytes: what an investigator's sign-off names it by.
    public var signedSHA256: String { Digest.sha256Hex(Decision.signedBytes(of: decision)) }
}
