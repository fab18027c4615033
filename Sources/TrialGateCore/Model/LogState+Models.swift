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
    /// A model id that differs from a registered one only in letter case is refused, so a score cannot slip past the
    /// check under a near-copy of the name. `payload` is the record as it stands (a correction's result included).
    static func checkSuppliedScore(_ payload: JSONValue, candidate: CandidateState, against state: LogState) throws {
        guard let id = payload["model"]?.stringValue else { return }
        guard state.models.contains(where: { $0.id == id }) else {
            if let near = state.models.first(where: { $0.id.lowercased() == id.lowercased() }) {
                throw TrialGateError(.invalidField, "model_score.recorded: \"model\" \"\(id)\" is not registered, but \(near.id) is; name the registered model exactly")
            }
            return
        }
        let version = payload["version"]?.stringValue ?? ""
        guard let model = state.model(id, version: version) else {
            let known = state.models.filter { $0.id == id }.map(\.version)
            throw TrialGateError(.invalidField, "model_score.recorded: \"version\" \"\(version)\" of model \(id) is not registered (registered: \(known.joined(separator: ", "))); register it first (`trialgate model register`)")
        }
        let artifact = payload["artifact_sha256"]?.stringValue ?? ""
        guard artifact == model.artifactSHA256 else {
            throw TrialGateError(.invalidField, "model_score.recorded: \"artifact_sha256\" \(artifact) is not the artifact registered for \(model.name) (\(model.artifactSHA256), event \(model.seq))")
        }
        guard let studyDate = payload["study_date"]?.stringValue, let score = payload["score"]?.numberValue,
              let record = ModelEvidence.features(of: candidate, studyDate: studyDate, settings: model.settingsSHA256) else { return }
        switch model.probability(from: record.current["features"]) {
        case .failure(let problem):
            throw TrialGateError(.invalidField, "model_score.recorded: the score cannot be checked against the features of event \(record.seq): \(problem)")
        case .success(let computed):
            guard abs(computed - score) <= ModelEvidence.suppliedScoreTolerance else {
                throw TrialGateError(.invalidField, "model_score.recorded: \"score\" \(CanonicalJSON.formatNumber(score)) is not what \(model.name) computes from the features of event \(record.seq) (\(CanonicalJSON.formatNumber(computed)); tolerance \(CanonicalJSON.formatNumber(ModelEvidence.suppliedScoreTolerance)))")
            }
        }
    }

    /// Features recorded after a score was supplied for the same study hold that score to them, as a score supplied
    /// after them would be: features that give a registered model another score than one supplied earlier are
    /// refused until that score is corrected.
    static func checkFeaturesAgainstSuppliedScores(_ payload: JSONValue, candidate: CandidateState, against state: LogState) throws {
        guard let studyDate = payload["study_date"]?.stringValue, let settings = payload["settings_sha256"]?.stringValue else { return }
        for supplied in candidate.records where supplied.type == .modelScoreRecorded {
            let s = supplied.current
            guard s["study_date"]?.stringValue == studyDate, let id = s["model"]?.stringValue, let version = s["version"]?.stringValue,
                  let model = state.model(id, version: version), model.settingsSHA256 == settings, let score = s["score"]?.numberValue,
                  case .success(let computed) = model.probability(from: payload["features"]) else { continue }
            if abs(computed - score) > ModelEvidence.suppliedScoreTolerance {
                throw TrialGateError(.invalidField, "radiomics.recorded: these features give \(model.name) a score of \(CanonicalJSON.formatNumber(computed)), but event \(supplied.seq) supplied \(CanonicalJSON.formatNumber(score)) for the same study (\(studyDate)); correct that score first (`trialgate correct --seq \(supplied.seq) --field score`)")
            }
        }
    }
}

extension RegisteredModel {
    /// The linear predictor the model gives the features of a radiomics record, or why it gives none: features that
    /// cannot be read, a feature missing or in another unit, or a linear predictor that is not a finite number (a value
    /// or the model overflowing binary64). The one computation behind the gate and the checks of supplied scores.
    func linearPredictor(from features: JSONValue?) -> Result<Double, ModelInputProblem> {
        guard let vector = FeatureVector(features) else { return .failure(ModelInputProblem("the features cannot be read")) }
        let (x, problem) = vector.inputs(for: artifact)
        guard let x else { return .failure(ModelInputProblem(problem ?? "")) }
        let lp = artifact.linearPredictor(x)
        guard lp.isFinite else { return .failure(ModelInputProblem("\(name)'s linear predictor is not a finite number (a feature value or the model overflows)")) }
        return .success(lp)
    }

    /// The probability `linearPredictor(from:)` stands for (display and supplied scores only).
    func probability(from features: JSONValue?) -> Result<Double, ModelInputProblem> {
        linearPredictor(from: features).map(ModelArtifact.probability)
    }
}

/// Why a model cannot be given its inputs from a record.
struct ModelInputProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
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
        self.init(models: state.models, candidate: candidate)
    }

    /// The evidence of `candidate` with the registered models `models`.
    public init(models: [RegisteredModel], candidate: CandidateState) {
        self.init(models: models, radiomics: candidate.records.filter { $0.type == .radiomicsRecorded },
                  suppliedScores: candidate.records.filter { $0.type == .modelScoreRecorded })
    }

    /// The newest of `candidate`'s radiomics records of `studyDate` extracted with the settings `settings`.
    static func features(of candidate: CandidateState, studyDate: String, settings: String) -> RecordEntry? {
        candidate.records.last {
            $0.type == .radiomicsRecorded && $0.current["study_date"]?.stringValue == studyDate && $0.current["settings_sha256"]?.stringValue == settings
        }
    }
}
