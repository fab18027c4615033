import TrialGateCore

/// `models`: every registered model version, in log order.
public struct ModelsReply: ReplyView, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var seq: Int64
        public var modelID: String
        public var version: String
        public var predicts: String
        public var artifactSHA256: String
        public var contrastPhase: String
        public var threshold: Double
        public var registeredAt: String

        enum CodingKeys: String, CodingKey {
            case seq, version, predicts, threshold, modelID = "model_id", artifactSHA256 = "artifact_sha256", contrastPhase = "contrast_phase",
                 registeredAt = "registered_at"
        }
    }

    public var models: [Entry]
}

/// `model.show`: one registered model version's card as the log holds it (artifact and settings texts included).
public struct ModelCardReply: ReplyView, Equatable {
    public var seq: Int64
    public var registeredAt: String
    public var registeredBy: String
    /// The `model.registered` payload.
    public var card: JSONValue

    enum CodingKeys: String, CodingKey { case seq, card, registeredAt = "registered_at", registeredBy = "registered_by" }
}

/// `model.score`: the score TrialGate computes for a candidate from their recorded features, with its provenance.
public struct ModelScoreReply: ReplyView, Equatable {
    public var candidate: String
    public var modelID: String
    /// The version that scored the features, or nil when none could.
    public var version: String?
    public var artifactSHA256: String?
    /// The `radiomics.recorded` event the features come from.
    public var featuresEvent: Int64?
    public var studyDate: String?
    public var contrastPhase: String?
    public var qcStatus: String?
    public var linearPredictor: Double?
    /// `1 / (1 + exp(−lp))`, for display: a verdict is taken on the linear predictor.
    public var probability: Double?
    public var thresholdLP: Double?
    public var greyZoneLP: [Double]?
    /// What a gate on this model with QC required would say: pass, fail or unknown.
    public var verdict: String
    public var reason: String
    public var evidence: [Int64]

    enum CodingKeys: String, CodingKey {
        case candidate, version, probability, verdict, reason, evidence, modelID = "model_id", artifactSHA256 = "artifact_sha256",
             featuresEvent = "features_event", studyDate = "study_date", contrastPhase = "contrast_phase", qcStatus = "qc_status",
             linearPredictor = "linear_predictor", thresholdLP = "threshold_lp", greyZoneLP = "grey_zone_lp"
    }
}
