import TrialGateCore

/// `proof.consistency`: an RFC 6962 consistency proof that the tree of `to` events extends the tree of `from`, with
/// the checkpoints of both sizes when they were issued.
public struct ConsistencyProofReply: ReplyView, Equatable {
    public var from: Int64
    public var to: Int64
    public var root1: String
    public var root2: String
    public var proof: [String]
    @OmittedWhenNil public var checkpoint1: String? = nil
    @OmittedWhenNil public var checkpoint2: String? = nil
}
