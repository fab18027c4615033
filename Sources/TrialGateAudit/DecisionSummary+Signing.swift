import TrialGateCore

extension DecisionSummary {
    /// The hex SHA-256 of a decision's signed bytes: what an investigator's sign-off names it by. The state keeps no
    /// decision body (it stays in the log), so this is computed from the `decision.issued` event.
    public static func signedSHA256(of event: Event) -> String {
        Digest.sha256Hex(Decision.signedBytes(of: event.payload["decision"] ?? .null))
    }
}
