import TrialGateCore

/// What a write answers: its own event, every event it appended (a write that makes a current decision stale also
/// appends a review query, in the same commit), and what some writes add (a published policy's summary, the keys of
/// `init` and of a rotation, an investigator's words), each a typed member present only on the writes that add it.
public struct WriteReceipt: ReplyView, Equatable {
    /// An event the write appended.
    public struct Appended: Codable, Sendable, Equatable {
        public let seq: Int64
        public let type: EventType
        public let hash: String
    }

    /// What `policy publish` published.
    public struct PublishedPolicySummary: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public var sha256: String
        /// How many criteria the policy has.
        public var criteria: Int

        public init(id: String, version: String, sha256: String, criteria: Int) {
            (self.id, self.version, self.sha256, self.criteria) = (id, version, sha256, criteria)
        }
    }

    public let appended: [Appended]
    /// `init` and `key rotate`: the key in force from this write on, its id and its public key as PEM.
    public var keyID: String?
    public var publicKeyPEM: String?
    /// `key rotate`: the id of the key it replaced.
    public var previousKeyID: String?
    /// `policy publish`: the policy published, and how many review queries the decisions it made stale opened.
    public var policy: PublishedPolicySummary?
    public var queriesOpened: Int?
    /// `signoff`: the words the investigator signed (the statement's `meaning_text`).
    public var meaningText: String?

    /// The write's own event: the first it appended.
    public var seq: Int64 { appended.first?.seq ?? 0 }
    public var hash: String { appended.first?.hash ?? "" }

    public init(_ events: [Event]) {
        appended = events.map { Appended(seq: $0.seq, type: $0.type, hash: $0.hash) }
    }

    enum CodingKeys: String, CodingKey {
        case appended, seq, hash, policy
        case keyID = "key_id", publicKeyPEM = "public_key_pem", previousKeyID = "previous_key_id", queriesOpened = "queries_opened"
        case meaningText = "meaning_text"
    }

    /// `appended`, `seq` and `hash` (which repeat the first event), and each member the write adds. Built directly
    /// (every write answers one): the same document `encode(to:)` gives.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "appended": .array(appended.map { ["seq": .number(Double($0.seq)), "type": .string($0.type.rawValue), "hash": .string($0.hash)] }),
            "seq": .number(Double(seq)), "hash": .string(hash),
        ]
        if let keyID { members[CodingKeys.keyID.rawValue] = .string(keyID) }
        if let publicKeyPEM { members[CodingKeys.publicKeyPEM.rawValue] = .string(publicKeyPEM) }
        if let previousKeyID { members[CodingKeys.previousKeyID.rawValue] = .string(previousKeyID) }
        if let policy {
            members[CodingKeys.policy.rawValue] = ["id": .string(policy.id), "version": .string(policy.version), "sha256": .string(policy.sha256),
                                                   "criteria": .number(Double(policy.criteria))]
        }
        if let queriesOpened { members[CodingKeys.queriesOpened.rawValue] = .number(Double(queriesOpened)) }
        if let meaningText { members[CodingKeys.meaningText.rawValue] = .string(meaningText) }
        return .object(members)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(json)
    }

    /// The receipt a reply line carried: `appended` (`seq` and `hash` repeat its first event), and the members the
    /// write added, each typed.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        appended = try c.decodeIfPresent([Appended].self, forKey: .appended) ?? []
        keyID = try c.decodeIfPresent(String.self, forKey: .keyID)
        publicKeyPEM = try c.decodeIfPresent(String.self, forKey: .publicKeyPEM)
        previousKeyID = try c.decodeIfPresent(String.self, forKey: .previousKeyID)
        policy = try c.decodeIfPresent(PublishedPolicySummary.self, forKey: .policy)
        queriesOpened = try c.decodeIfPresent(Int.self, forKey: .queriesOpened)
        meaningText = try c.decodeIfPresent(String.self, forKey: .meaningText)
    }
}
