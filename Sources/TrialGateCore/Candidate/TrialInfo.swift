/// The trial's identity as set by the first event.
public struct TrialInfo: Sendable, Equatable {
    public let trialID: String
    public let logOrigin: String
    /// Base64 of the raw 32-byte Ed25519 public key.
    public let publicKey: String
    public let keyID: String
}
