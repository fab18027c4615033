import TrialGateCore

/// `verify`: whether the whole log checks out (hashes, chain, every event's rules, signatures, checkpoints, saved
/// report snapshots), what was checked, and the first 50 problems; with a saved checkpoint, whether the log extends
/// it; with a vkey, whether the log's key history includes it.
public struct VerifyReply: ReplyView, Equatable {
    /// A problem the pass found, at the event it names (0: the file itself).
    public struct Problem: Codable, Sendable, Equatable {
        public var seq: Int64
        public var code: String
        public var message: String
    }

    /// Whether the log extends a checkpoint saved earlier, and the proof.
    public struct CheckpointCheck: Codable, Sendable, Equatable {
        public var size: Int64
        public var root: String
        public var signedBy: String?
        public var extends: Bool
        public var consistencyProof: [String]

        enum CodingKeys: String, CodingKey {
            case size, root, extends, signedBy = "signed_by", consistencyProof = "consistency_proof"
        }
    }

    public var valid: Bool
    public var events: Int64
    public var signaturesChecked: Int
    public var head: String
    /// Checkpoints whose origin, size and root were checked against the recomputed tree.
    public var checkpointsChecked: Int
    /// Checkpoint signatures verified: the newest checkpoint's, or every one with `every_checkpoint`.
    public var checkpointSignaturesChecked: Int
    public var reportSnapshotsChecked: Int
    public var root: String
    /// The first 50 problems.
    public var problems: [Problem]
    public var problemCount: Int
    /// What is wrong with the file itself (tables, triggers), in words.
    public var structure: [String]
    @OmittedWhenNil public var firstBadSeq: Int64? = nil
    /// With a vkey: whether the log's key history includes it.
    @OmittedWhenNil public var vkeyInHistory: Bool? = nil
    /// With a saved checkpoint.
    @OmittedWhenNil public var checkpoint: CheckpointCheck? = nil

    enum CodingKeys: String, CodingKey {
        case valid, events, head, root, problems, structure, checkpoint
        case signaturesChecked = "signatures_checked", checkpointsChecked = "checkpoints_checked"
        case checkpointSignaturesChecked = "checkpoint_signatures_checked"
        case reportSnapshotsChecked = "report_snapshots_checked", problemCount = "problem_count", firstBadSeq = "first_bad_seq"
        case vkeyInHistory = "vkey_in_history"
    }
}
