import TrialGateCore

/// `public-key`: the trial's key in force (its members at the top of the reply) and the whole key history (`keys`),
/// each as raw base64, PEM (SubjectPublicKeyInfo) and C2SP signed-note vkey.
public struct PublicKeyReply: ReplyView, Equatable {
    public struct Key: Codable, Sendable, Equatable {
        public var seq: Int64
        public var keyID: String
        public var publicKey: String
        public var pem: String
        public var vkey: String

        enum CodingKeys: String, CodingKey {
            case seq, pem, vkey, keyID = "key_id", publicKey = "public_key"
        }
    }

    /// The key in force.
    public var current: Key
    /// Every key of the log, oldest first.
    public var keys: [Key]

    enum CodingKeys: String, CodingKey { case keys }

    public init(current: Key, keys: [Key]) { (self.current, self.keys) = (current, keys) }

    public func encode(to encoder: any Encoder) throws {
        try current.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(keys, forKey: .keys)
    }

    public init(from decoder: any Decoder) throws {
        current = try Key(from: decoder)
        keys = try decoder.container(keyedBy: CodingKeys.self).decode([Key].self, forKey: .keys)
    }
}
