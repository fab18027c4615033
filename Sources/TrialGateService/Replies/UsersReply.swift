import TrialGateCore

/// `users`: every account, by name: role, sites, status, expiry, the events that added and last changed it, and an
/// investigator's printed name and signing keys. Never a token.
public struct UsersReply: ReplyView, Equatable {
    public struct Account: Codable, Sendable, Equatable {
        public var name: String
        public var role: String
        public var sites: [String]
        public var status: String
        public var inForce: Bool
        public var expiresAt: String?
        public var addedSeq: Int64
        public var addedAt: String
        public var changedSeq: Int64
        public var printedName: String?
        public var publicKey: String?
        public var keyID: String?
        public var signerKeys: [SignerKey]

        enum CodingKeys: String, CodingKey {
            case name, role, sites, status, inForce = "in_force", expiresAt = "expires_at", addedSeq = "added_seq", addedAt = "added_at"
            case changedSeq = "changed_seq", printedName = "printed_name", publicKey = "public_key", keyID = "key_id", signerKeys = "signer_keys"
        }
    }

    /// A key an investigator's account held, from the event that brought it into force.
    public struct SignerKey: Codable, Sendable, Equatable {
        public var seq: Int64
        public var keyID: String
        public var publicKey: String

        enum CodingKeys: String, CodingKey { case seq, keyID = "key_id", publicKey = "public_key" }
    }

    public var users: [Account]
}
