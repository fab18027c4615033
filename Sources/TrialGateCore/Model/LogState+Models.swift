extension LogState {
    /// The registered version `version` of model `id`, if any.
    public func model(_ id: String, version: String) -> RegisteredModel? {
        models.first { $0.id == id && $0.version == version }
    }

    /// A model registration: a card that reads, for a model version not registered before.
    static func checkModelRegistration(_ event: Event, against state: LogState) throws {
        guard event.candidate == nil, state.trial != nil else {
            throw TrialGateError(.invalidEvent, "event \(event.seq) (model.registered): a model is registered in an initialised trial, about no candidate")
        }
        guard event.schemaVersion >= 3 else {
            throw TrialGateError(.invalidEvent, "event \(event.seq): model.registered does not exist in event schema \(event.schemaVersion)")
        }
        let model = try RegisteredModel(payloadOf: event)
        if let earlier = state.model(model.id, version: model.version) {
            throw TrialGateError(.versionReused, "model \(model.name) is already registered (event \(earlier.seq)); a changed model needs a new version")
        }
    }

    /// A score from outside is held to the registered model it names: the version must be registered, the artifact
    /// must be the registered one, and when the candidate's features of that study are recorded, the score must be
    /// the one the model computes from them (to 1e-9: the comparison is on the probability, which is not exact).
    static func checkSuppliedScore(_ event: Event, candidate: CandidateState, against state: LogState) throws {
        guard let id = event.payload["model"]?.stringValue, state.models.contains(where: { $0.id == id }) else { return }
        let version = event.payload["version"]?.stringValue ?? ""
        guard let model = state.model(id, version: version) else {
            let known = state.models.filter { $0.id == id }.map(\.version)
            throw TrialGateError(.invalidField, "model_score.recorded: \"version\" \"\(version)\" of model \(id) is not registered (registered: \(known.joined(separator: ", "))); register it first (`trialgate model register`)")
        }
        let artifact = event.payload["artifact_sha256"]?.stringValue ?? ""
        guard artifact == model.artifactSHA256 else {
            throw TrialGateError(.invalidField, "model_score.recorded: \"artifact_sha256\" \(artifact) is not the artifact registered for \(model.name) (\(model.artifactSHA256), event \(model.seq))")
        }
        guard let studyDate = event.payload["study_date"]?.stringValue, let score = event.payload["score"]?.numberValue,
              let record = ModelEvidence.features(of: candidate, studyDate: studyDate, settings: model.settingsSHA256) else { return }
        guard let features = FeatureVector(record.current["features"]) else { return }
        let (x, problem) = features.inputs(for: model.artifact)
        guard let x else {
            throw TrialGateError(.invalidField, "model_score.recorded: the features of event \(record.seq) cannot give \(model.name) its inputs (\(problem ?? "")); the score cannot be checked")
        }
        let computed = ModelArtifact.probability(model.artifact.linearPredictor(x))
        guard abs(computed - score) <= ModelEvidence.suppliedScoreTolerance else {
            throw TrialGateError(.invalidField, "model_score.recorded: \"score\" \(CanonicalJSON.formatNumber(score)) is not what \(model.name) computes from the features of event \(record.seq) (\(CanonicalJSON.formatNumber(computed)); tolerance \(CanonicalJSON.formatNumber(ModelEvidence.suppliedScoreTolerance)))")
        }
    }
}

/// What a model gate reads besides the facts: the registered models and the candidate's radiomics records and
/// supplied scores, as the log stood when the decision was made.
public struct ModelEvidence: Sendable {
    public let models: [RegisteredModel]
    /// The candidate's `radiomics.recorded` records, in log order.
    public let radiomics: [RecordEntry]
    /// The candidate's `model_score.recorded` records (after corrections), in log order.
    public let suppliedScores: [RecordEntry]

    /// How far a supplied probability may be from the recomputed one.
    public static let suppliedScoreTolerance = 1e-9

    /// No models and no records: what a log without models gives every gate.
    public static let none = ModelEvidence(models: [], radiomics: [], suppliedScores: [])

    public init(models: [RegisteredModel], radiomics: [RecordEntry], suppliedScores: [RecordEntry]) {
        (self.models, self.radiomics, self.suppliedScores) = (models, radiomics, suppliedScores)
    }

    /// The evidence of `candidate` in `state`.
    public init(_ state: LogState, candidate: CandidateState) {
        self.init(models: state.models, radiomics: candidate.records.filter { $0.type == .radiomicsRecorded },
                  suppliedScores: candidate.records.filter { $0.type == .modelScoreRecorded })
    }

    /// The newest of `candidate`'s radiomics records of `studyDate` extracted with the settings `settings`.
    static func features(of candidate: CandidateState, studyDate: String, settings: String) -> RecordEntry? {
        candidate.records.last {
            $0.type == .radiomicsRecorded && $0.current["study_date"]?.stringValue == studyDate && $0.current["settings_sha256"]?.stringValue == settings
        }
    }
}
