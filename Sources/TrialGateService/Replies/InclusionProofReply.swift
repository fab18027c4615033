import TrialGateCore

/// `proof.inclusion`: an RFC 6962 inclusion proof of event `seq` (leaf `index`) in the tree of `size` events, with
/// the checkpoint of that size when one was issued.
public struct InclusionProofReply: ReplyView, Equatable {
    public var seq: Int64
    public var index: Int64
    public var size: Int64
    public var leafHash: String
    public var root: String
    public var proof: [String]
    @OmittedWhenNil public var checkpoint: String? = nil

    enum CodingKeys: String, CodingKey {
        case seq, index, size, root, proof, checkpoint, leafHash = "leaf_hash"
    }
}
