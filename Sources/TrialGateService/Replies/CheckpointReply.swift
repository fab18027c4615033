import TrialGateCore

/// `checkpoint`: a signed checkpoint as issued (`note`, a C2SP signed note), with its size, time, and the origin and
/// root read from the note (null when the note does not parse).
public struct CheckpointReply: ReplyView, Equatable {
    public var size: Int64
    public var issuedAt: String
    public var note: String
    public var origin: String?
    public var root: String?
    /// Witnesses' cosignature lines of this checkpoint (C2SP tlog-cosignature), when any were received.
    @OmittedWhenNil public var cosignatures: [String]? = nil

    enum CodingKeys: String, CodingKey {
        case size, note, origin, root, cosignatures, issuedAt = "issued_at"
    }
}
