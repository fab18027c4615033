/// An account as the log records it: who may use the socket, with which role and sites, the SHA-256 of their bearer
/// token (never the token), and whether it is in force. Every change is a `user.*` event, attributed and
/// time-stamped, so the log shows who could do what at any past moment (21 CFR 11.10(d), (g)).
public struct UserAccount: Sendable, Equatable {
    public enum Status: String, Sendable {
        case active, disabled, removed
    }

    public let name: String
    public let role: Role
    public let sites: [String]
    /// The signer's name as a signature shows it (21 CFR 11.50(a)(1)); required for investigators.
    public let printedName: String?
    /// An investigator's Ed25519 public key (base64 of the raw 32 bytes) and its key id: the key their CLI signs
    /// sign-offs and attestations with. The server never holds the private key.
    public internal(set) var publicKey: String?
    public internal(set) var keyID: String?
    /// Every key the account has signed with, in the order they came into force (`user.added`, then each
    /// `user.signer_rotated`): a statement names the key id it was signed with.
    public internal(set) var keyHistory: [SigningKeyRecord] = []
    /// Hex SHA-256 of an investigator's signing code, the second signature component besides the account name:
    /// distinct from the session token (21 CFR 11.200(a)(1)).
    public internal(set) var signingSHA256: String?
    /// Hex SHA-256 of the token's UTF-8 bytes.
    public internal(set) var tokenSHA256: String
    /// After this instant the account no longer authenticates (nil: no expiry).
    public let expiresAt: UTCTimestamp?
    public internal(set) var status: Status
    /// The `user.added` event.
    public let addedSeq: Int64
    public let addedAt: UTCTimestamp
    /// The newest event that changed the account.
    public internal(set) var changedSeq: Int64

    /// Whether the account may act at `now`.
    public func isInForce(at now: UTCTimestamp) -> Bool {
        status == .active && (expiresAt.map { now < $0 } ?? true)
    }

    /// The principal the account authenticates as.
    public var principal: Principal { Principal(name: name, role: role, sites: sites, tokenSHA256: tokenSHA256) }
}
