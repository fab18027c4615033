import TrialGateCore
import TrialGateAudit

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
    /// The witnesses' cosigner vkeys and how many of them must have cosigned `checkpoint.note`, when the exporter named
    /// them. Written by the operator, they tell a verifier what the trial's plan requires; they prove nothing against the
    /// operator, so a regulator passes the keys they obtained from the witnesses themselves.
    @OmittedWhenNil public var witnesses: [String]? = nil
    @OmittedWhenNil public var quorum: Int? = nil
    /// In the reply only (never in the manifest file): events beyond the bundle, or a head that does not hold.
    @OmittedWhenNil public var logWarning: String? = nil

    enum CodingKeys: String, CodingKey {
        case format, size, root, decisions, files, witnesses, quorum, trialID = "trial_id", logOrigin = "log_origin", exportedAt = "exported_at"
        case logWarning = "log_warning"
    }

    /// The witness keys and quorum recorded in a manifest, checked when the export is asked for.
    public struct WitnessRequirement: Sendable, Equatable {
        public let witnesses: [String]
        public let quorum: Int

        /// Nil when no witness is named; a quorum without witnesses, or outside 1…their number, is refused.
        public init?(witnesses: [String], quorum: Int?) throws {
            guard !witnesses.isEmpty else {
                if quorum != nil { throw TrialGateError(.badRequest, "--quorum needs the --witness keys it counts") }
                return nil
            }
            let keys = try CosignerKey.distinct(try witnesses.map { try CosignerKey(vkey: $0) })
            let k = quorum ?? keys.count
            guard (1...keys.count).contains(k) else { throw TrialGateError(.badRequest, "--quorum K takes 1 ≤ K ≤ \(keys.count), the number of --witness keys; got \(k)") }
            (self.witnesses, self.quorum) = (keys.map(\.vkey), k)
        }
    }
}
