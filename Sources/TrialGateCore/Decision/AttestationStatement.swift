/// What an investigator signs to attest a criterion (event schema 3): the attestation's own fields, bound to the
/// trial and the candidate, with the signer and the time. The `attestation.recorded` payload carries the same fields
/// flat (`criterion`, `result`, `attested_on`, `statement`, `signer`, `printed_name`, `key_id`, `signed_at`) and the
/// signature, so a verifier rebuilds the statement from the event alone.
public enum AttestationStatement {
    public static let format = "trialgate.attestation/1"
    /// The fields the investigator states; the rest of the payload says who signed and when.
    public static let statedFields = ["criterion", "result", "attested_on", "statement"]

    /// The statement of an attestation payload (with or without its signature) for `candidate` of `trial`.
    public static func of(_ payload: JSONValue, trial: TrialInfo, candidate: String) -> JSONValue {
        var o: [String: JSONValue] = [
            "format": .string(format), "trial_id": .string(trial.trialID), "log_origin": .string(trial.logOrigin), "candidate": .string(candidate),
            "signer": ["user": payload["signer"] ?? .null, "printed_name": payload["printed_name"] ?? .null, "key_id": payload["key_id"] ?? .null],
            "signed_at": payload["signed_at"] ?? .null,
        ]
        for f in statedFields { if let v = payload[f], v != .null { o[f] = v } }
        return .object(o)
    }
}
