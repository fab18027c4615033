/// A signing key of the trial and the event that brought it into force (1 for the trial's first key).
public struct SigningKeyRecord: Sendable, Equatable {
    public let seq: Int64
    /// Base64 of the raw 32-byte Ed25519 public key.
    public let publicKey: String
    public let keyID: String

    public init(seq: Int64, publicKey: String, keyID: String) {
        self.seq = seq
        self.publicKey = publicKey
        self.keyID = keyID
    }
}

/// What a key rotation signs, with the old key and with the new one: the new key, bound to the trial and
/// to the exact log position, so it cannot be replayed into another log or another place.
public func keyRotationStatement(trialID: String, logOrigin: String, previousKeyID: String, publicKey: String, keyID: String,
                                 logSize: Int64, logHead: String) -> JSONValue {
    .object([
        "format": .string("trialgate.key-rotation/1"),
        "trial_id": .string(trialID), "log_origin": .string(logOrigin),
        "previous_key_id": .string(previousKeyID), "public_key": .string(publicKey), "key_id": .string(keyID),
        "log": .object(["size": .number(Double(logSize)), "head": .string(logHead)]),
    ])
}
