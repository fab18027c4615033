import TrialGateCore

/// An audit bundle's `manifest.json`, and what `export --out` answers: the trial, the log size and root the bundle
/// covers (its newest checkpoint's), how many decisions it holds, and every file with its SHA-256 (hex).
public struct BundleManifest: ReplyView, Equatable {
    public var format: String
    public var trialID: String
    public var logOrigin: String
    public var size: Int64
    public var root: String
    public var decisions: Int
    public var exportedAt: String
    /// Each file's SHA-256 in hex, by its path in the bundle.
    public var files: [String: String]
    /// In the reply only (never in the manifest file): events beyond the bundle, or a head that does not hold.
    @OmittedWhenNil public var logWarning: String? = nil

    enum CodingKeys: String, CodingKey {
        case format, size, root, decisions, files, trialID = "trial_id", logOrigin = "log_origin", exportedAt = "exported_at"
        case logWarning = "log_warning"
    }
}
