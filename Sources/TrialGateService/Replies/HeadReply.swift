import TrialGateCore
import TrialGateStore

/// `head`: the log's size and head hash; once the log has a first event, the trial it names and the key in force;
/// the policy in force, when one was published; and the store (engine, a replica's lag, the writer lease).
public struct HeadReply: ReplyView, Equatable {
    public var size: Int64
    public var head: String
    /// The trial as the first event names it: absent from the reply on an empty log.
    public var trial: Trial?
    /// The newest published policy: absent from the reply when none was published.
    public var policy: Policy?
    /// The store: its engine, whether it takes writes, a replica's lag behind its primary, the writer lease.
    public var store: StoreStatus?

    public struct Trial: Sendable, Equatable {
        public var trialID: String?
        public var logOrigin: String?
        public var keyID: String?
    }

    public struct Policy: Codable, Sendable, Equatable {
        public var id: String?
        public var version: String?
        public var sha256: String?
        public var seq: Int64
    }

    enum CodingKeys: String, CodingKey {
        case size, head, policy, store, trialID = "trial_id", logOrigin = "log_origin", keyID = "key_id"
    }

    public init(size: Int64, head: String, trial: Trial?, policy: Policy?, store: StoreStatus? = nil) {
        (self.size, self.head, self.trial, self.policy, self.store) = (size, head, trial, policy, store)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(size, forKey: .size)
        try c.encode(head, forKey: .head)
        if let trial {
            try c.encodeIfPresent(trial.trialID, forKey: .trialID)
            try c.encodeIfPresent(trial.logOrigin, forKey: .logOrigin)
            try c.encodeIfPresent(trial.keyID, forKey: .keyID)
        }
        if let policy { try c.encode(policy, forKey: .policy) }
        if let store { try c.encode(store, forKey: .store) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        size = try c.decode(Int64.self, forKey: .size)
        head = try c.decode(String.self, forKey: .head)
        trial = c.contains(.trialID) || c.contains(.logOrigin) || c.contains(.keyID)
            ? Trial(trialID: try c.decodeIfPresent(String.self, forKey: .trialID), logOrigin: try c.decodeIfPresent(String.self, forKey: .logOrigin),
                    keyID: try c.decodeIfPresent(String.self, forKey: .keyID))
            : nil
        policy = try c.decodeIfPresent(Policy.self, forKey: .policy)
        store = try c.decodeIfPresent(StoreStatus.self, forKey: .store)
    }
}
