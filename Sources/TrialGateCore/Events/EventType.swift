/// Every kind of fact the log holds. Names are facts in the past tense.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case trialInitialised = "trial.initialised"
    case policyPublished = "policy.published"
    case candidateRegistered = "candidate.registered"
    case imagingRecorded = "imaging.recorded"
    case ki67Recorded = "ki67.recorded"
    case mitoticCountRecorded = "mitotic_count.recorded"
    case sstrRecorded = "sstr.recorded"
    case modelScoreRecorded = "model_score.recorded"
    /// The features of one CT lesion, with the image, mask, readers, QC and extraction they come from.
    case radiomicsRecorded = "radiomics.recorded"
    /// A model version's card, artifact and extraction settings (`docs/model-evidence.md`).
    case modelRegistered = "model.registered"
    case clinicalRecorded = "clinical.recorded"
    /// Histopathology: primary organ, tumour type, differentiation, necrosis (event schema 2).
    case pathologyRecorded = "pathology.recorded"
    /// A signed statement that a criterion no structured fact can decide holds or not (event schema 2).
    case attestationRecorded = "attestation.recorded"
    case entryCorrected = "entry.corrected"
    case candidateWithdrawn = "candidate.withdrawn"
    case decisionIssued = "decision.issued"
    /// An investigator's signed sign-off of a current decision: confirmed or overridden, with its meaning.
    case decisionSigned = "decision.signed"
    /// A review query on a candidate: a criterion that needs review, a stale decision, or a question.
    case queryOpened = "query.opened"
    /// A coordinator's answer to a query: a note, and the records that answer it.
    case queryAnswered = "query.answered"
    /// An investigator or monitor closed a query.
    case queryClosed = "query.closed"
    case keyRotated = "key.rotated"
    /// An account may use the socket with a role (and sites), by the SHA-256 of its token.
    case userAdded = "user.added"
    case userDisabled = "user.disabled"
    case userEnabled = "user.enabled"
    case userRemoved = "user.removed"
    /// The account's token was replaced; the old one no longer authenticates.
    case userTokenRotated = "user.token_rotated"
    /// An investigator's new Ed25519 key and signing code replaced the old ones (event schema 3).
    case userSignerRotated = "user.signer_rotated"
    /// A file of records was imported (`trialgate import`): its name, SHA-256, rows and the events they became, which
    /// it follows in the same commit (event schema 3).
    case recordsImported = "records.imported"

    /// The account events, which the server's users are folded from.
    public static let accountEvents: [EventType] = [.userAdded, .userDisabled, .userEnabled, .userRemoved, .userTokenRotated, .userSignerRotated]

    /// The query events.
    public static let queryEvents: [EventType] = [.queryOpened, .queryAnswered, .queryClosed]

    /// Events that change what a candidate's decision rests on: after one, the decision is stale.
    public var changesCandidateData: Bool {
        switch self {
        case .candidateRegistered, .entryCorrected, .candidateWithdrawn: true
        default: factPrefix != nil
        }
    }

    /// The clinical record kinds a coordinator records with `record <kind>`, and the event each becomes.
    public static let recordKinds: [String: EventType] = [
        "imaging": .imagingRecorded,
        "ki67": .ki67Recorded,
        "mitotic-count": .mitoticCountRecorded,
        "sstr": .sstrRecorded,
        "model-score": .modelScoreRecorded,
        "radiomics": .radiomicsRecorded,
        "clinical": .clinicalRecorded,
        "pathology": .pathologyRecorded,
        "attestation": .attestationRecorded,
    ]

    /// The prefix of the fact names this event contributes (`ki67` → `ki67.percent`).
    public var factPrefix: String? {
        switch self {
        case .imagingRecorded: "imaging"
        case .ki67Recorded: "ki67"
        case .mitoticCountRecorded: "mitotic_count"
        case .sstrRecorded: "sstr"
        case .modelScoreRecorded: "model_score"
        case .radiomicsRecorded: "radiomics"
        case .clinicalRecorded: "clinical"
        case .pathologyRecorded: "pathology"
        case .attestationRecorded: "attestation"
        default: nil
        }
    }
}
