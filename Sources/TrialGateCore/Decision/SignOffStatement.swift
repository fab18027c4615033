/// The format of what an investigator signs.
public enum SignOffStatement {
    public static let format = "trialgate.signoff/1"
    /// How far the signer's clock may be from the log's when the statement is appended.
    public static let clockSkewMilliseconds: Int64 = 300_000

    /// The statement an investigator signs off decision `decision` with: the trial, the candidate, the exact
    /// decision (its sequence number and the SHA-256 of its signed bytes), the meaning in words, the signer's
    /// account, printed name and key, and the UTC time of signing. Its RFC 8785 bytes are what is signed.
    public static func make(trial: TrialInfo, candidate: String, decision: DecisionSummary, decisionSHA256: String,
                            meaning: SignOffMeaning, reason: String?, signer: UserAccount, signedAt: UTCTimestamp) -> JSONValue {
        var o: [String: JSONValue] = [
            "format": .string(format), "trial_id": .string(trial.trialID), "log_origin": .string(trial.logOrigin),
            "candidate": .string(candidate),
            "decision": ["seq": .number(Double(decision.seq)), "sha256": .string(decisionSHA256), "outcome": .string(decision.outcome),
                         "policy": .string(decision.policyName)],
            "meaning": .string(meaning.rawValue),
            "meaning_text": .string(meaning.sentence(printedName: signer.printedName ?? signer.name, user: signer.name, candidate: candidate,
                                                     decisionSeq: decision.seq, proposed: decision.outcome)),
            "signer": ["user": .string(signer.name), "printed_name": .string(signer.printedName ?? ""), "key_id": .string(signer.keyID ?? "")],
            "signed_at": .string(signedAt.description),
        ]
        if let reason { o["reason"] = .string(reason) }
        return .object(o)
    }
}
