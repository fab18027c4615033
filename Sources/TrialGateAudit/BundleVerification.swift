import TrialGateCore

/// What checking an audit bundle found.
public struct BundleVerification: Sendable {
    public var problems: [AuditProblem] = []
    public var events: Int64 = 0
    public var decisions = 0
    public var decisionsReproduced = 0
    public var checkpoints = 0
    /// Checkpoint signatures verified in checkpoints.jsonl: the newest's, or every one's (`LogAuditor.CheckpointSignatures`).
    public var checkpointSignaturesChecked = 0
    public var signaturesChecked = 0
    public var inclusionProofs = 0
    public var root: [UInt8] = []
    /// The vkey of the key that signed the newest checkpoint.
    public var signedBy: String?
    /// The witness quorum's verdict on the newest checkpoint, when witnesses were asked for or named by the manifest.
    public var witnessed: String?

    public var valid: Bool { problems.isEmpty }

    public init() {}
}
