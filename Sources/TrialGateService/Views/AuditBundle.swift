/// The audit bundle: everything a regulator needs to check the log without TrialGate (see docs/audit-bundle.md).
public enum AuditBundle {
    public static let format = "trialgate.audit-bundle/1"
    public static let eventsFile = "events.jsonl"
    public static let checkpointsFile = "checkpoints.jsonl"
    public static let latestCheckpointFile = "checkpoint.note"
    public static let decisionsFile = "decisions.jsonl"
    public static let keysFile = "keys.json"
    public static let policiesFile = "policies.json"
    /// The registered models' list; each artifact is in `models/<id>@<version>.json`.
    public static let modelsFile = "models.json"
    public static let manifestFile = "manifest.json"
}
