import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore
import TrialGateWitness

/// What `trialgate --version` prints: this release, and the version of each format it writes and reads, so that a
/// store, a bundle or a signed record can be matched with the releases that read it.
enum BuildVersion {
    /// This release (its minor number counts the project's resolved issues).
    static let release = "0.21.0"

    static var text: String {
        """
        trialgate \(release)
        store schema \(Schema.version) (newest migration \(Schema.newestMigration)); event schema \(Event.currentSchemaVersion)
        log: RFC 6962 Merkle tree, C2SP tlog-checkpoint signed notes (Ed25519), cosignatures cosignature/v1 (C2SP tlog-cosignature)
        formats: \(Decision.format), \(SignOffStatement.format), \(AttestationStatement.format), \(AuditBundle.format), \(ModelArtifact.format), \(ReportSnapshot.format), \(WitnessState.format)
        """
    }
}
