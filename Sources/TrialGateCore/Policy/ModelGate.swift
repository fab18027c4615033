/// A policy condition on a registered model's score, computed by TrialGate from the candidate's recorded features.
///
/// `when: {model: net-radiomics-lr, versions: ["1.0.0"], require_qc: true, contrast_phase: portal_venous, max_age_days: 60}`
public struct ModelGate: Sendable, Equatable {
    public let model: String
    /// The versions accepted, in order of preference: features are scored by the first whose extraction settings
    /// they were extracted with.
    public let versions: [String]
    /// Whether the mask must have passed a second reader's QC (default true).
    public let requireQC: Bool
    /// The phase the features must come from; nil: the model card's.
    public let contrastPhase: String?
    /// The image's greatest age at the decision, in days.
    public let maxAgeDays: Int?

    public init(model: String, versions: [String], requireQC: Bool = true, contrastPhase: String? = nil, maxAgeDays: Int? = nil) {
        (self.model, self.versions, self.requireQC, self.contrastPhase, self.maxAgeDays) = (model, versions, requireQC, contrastPhase, maxAgeDays)
    }

    /// The name of the observed member that carries the gate's evidence in a decision: `model.<id>`.
    public var observedName: String { "model.\(model)" }

    /// The rule in words.
    var rule: String {
        var parts = ["\(model) [\(versions.joined(separator: ", "))] linear predictor ≥ the card's threshold (grey zone needs review)"]
        if requireQC { parts.append("mask QC passed") }
        parts.append("\(contrastPhase ?? "the card's") contrast phase")
        if let maxAgeDays { parts.append("image within \(maxAgeDays) days") }
        return parts.joined(separator: "; ")
    }
}

extension PolicyEvaluator {
    /// A model gate: the score of the candidate's newest features of the right phase, computed with the first accepted
    /// registered version whose extraction settings they were extracted with, against that card's operating point.
    /// Anything that leaves the score's provenance incomplete makes the gate unknown, with the reason.
    static func modelGate(_ gate: ModelGate, _ evidence: ModelEvidence, date: CivilDate) -> Partial {
        var p = Partial(verdict: .unknown, reason: "", threshold: gate.rule)
        let accepted = gate.versions.compactMap { v in evidence.models.first { $0.id == gate.model && $0.version == v } }
        guard let first = accepted.first else {
            p.reason = "model \(gate.model) version \(gate.versions.joined(separator: " or ")) is not registered in this log"
            return p
        }
        let phase = gate.contrastPhase ?? first.contrastPhase
        // A version scores only features of the phase it was validated on.
        let ofItsPhase = accepted.filter { $0.contrastPhase == phase }
        guard !ofItsPhase.isEmpty else {
            p.reason = "no accepted version of \(gate.model) was validated on the \(phase) phase (\(accepted.map { "\($0.name): \($0.contrastPhase)" }.joined(separator: ", ")))"
            return p
        }
        func studyDate(_ r: RecordEntry) -> CivilDate? { r.current["study_date"]?.stringValue.flatMap(CivilDate.init) }
        let ofPhase = evidence.radiomics.filter { $0.current["contrast_phase"]?.stringValue == phase }
        // The newest observation wins; on the same study date the later entry.
        guard let record = ofPhase.max(by: { (studyDate($0)?.daysSinceEpoch ?? .min, $0.seq) < (studyDate($1)?.daysSinceEpoch ?? .min, $1.seq) }) else {
            let supplied = evidence.suppliedScores.last { $0.current["model"]?.stringValue == gate.model && gate.versions.contains($0.current["version"]?.stringValue ?? "") }
            if let supplied {
                p.evidence = [supplied.seq]
                p.reason = "a score of \(gate.model) was supplied (event \(supplied.seq)) without its features; TrialGate cannot recompute it: record the features (radiomics.recorded)"
            } else {
                let others = evidence.radiomics.compactMap { r in r.current["contrast_phase"]?.stringValue.map { "\($0), event \(r.seq)" } }
                p.reason = "no radiomics features from the \(phase) phase are recorded" + (others.isEmpty ? "" : " (recorded: \(others.joined(separator: "; ")))")
            }
            return p
        }
        p.evidence = [record.seq]
        let settings = record.current["settings_sha256"]?.stringValue ?? ""
        guard let model = ofItsPhase.first(where: { $0.settingsSHA256 == settings }) else {
            p.reason = "the features of event \(record.seq) were extracted with settings \(settings.prefix(12))…, which no accepted version expects (\(ofItsPhase.map { "\($0.name): \($0.settingsSHA256.prefix(12))…" }.joined(separator: ", ")))"
            return p
        }
        p.evidence.insert(model.seq)
        let software = record.current["software"]?.stringValue ?? ""
        guard software == model.software else {
            p.reason = "the features of event \(record.seq) were extracted with \(software); \(model.name) was validated with \(model.software)"
            return p
        }
        let qc = record.current["qc_status"]?.stringValue ?? "?"
        let image = "\(phase) CT of \(studyDate(record)?.description ?? "?"), event \(record.seq)"
        if let maxAge = gate.maxAgeDays, let on = studyDate(record), date.daysSinceEpoch - on.daysSinceEpoch > maxAge {
            p.reason = "the \(image) is \(date.daysSinceEpoch - on.daysSinceEpoch) days old (limit \(maxAge)); needs a newer image"
            return p
        }
        let lp: Double
        switch model.linearPredictor(from: record.current["features"]) {
        case .success(let value): lp = value
        case .failure(let problem):
            p.reason = "\(model.name) cannot be computed from event \(record.seq): \(problem); needs review"
            return p
        }
        var verdict: Verdict
        let shown = "linear predictor \(CanonicalJSON.formatNumber(lp))"
        let t = "\(CanonicalJSON.formatNumber(model.thresholdLP)) (p \(CanonicalJSON.formatNumber(model.threshold)))"
        if gate.requireQC && qc != "pass" {
            verdict = .unknown
            p.reason = "\(model.name) on the \(image): mask QC is \(qc); a second reader must pass the mask before the score counts"
        } else if model.greyZoneLP.low <= lp && lp < model.greyZoneLP.high {
            verdict = .unknown
            p.reason = "\(model.name) on the \(image): \(shown) is in the grey zone [\(CanonicalJSON.formatNumber(model.greyZoneLP.low)), \(CanonicalJSON.formatNumber(model.greyZoneLP.high))) (p \(CanonicalJSON.formatNumber(model.greyZone.low))–\(CanonicalJSON.formatNumber(model.greyZone.high))); needs review"
        } else {
            verdict = lp >= model.thresholdLP ? .pass : .fail
            p.reason = "\(model.name) on the \(image): \(shown) \(verdict == .pass ? "≥" : "<") threshold \(t)"
        }
        p.verdict = verdict
        p.observed[gate.observedName] = .object([
            "version": .string(model.version), "artifact_sha256": .string(model.artifactSHA256), "features_event": .number(Double(record.seq)),
            "linear_predictor": .number(lp), "threshold_lp": .number(model.thresholdLP),
            "grey_zone_lp": .array([.number(model.greyZoneLP.low), .number(model.greyZoneLP.high)]),
            "qc_required": .bool(gate.requireQC), "qc_status": .string(qc), "verdict": .string(verdict.rawValue),
        ])
        return p
    }
}

/// What a model gate came to, for views that show a candidate's score outside a decision.
public struct ModelGateResult: Sendable {
    public let verdict: Verdict
    public let reason: String
    /// The `model.<id>` member a decision would carry, when a score was computed.
    public let observed: JSONValue?
    /// The radiomics record and the model registration the score rests on.
    public let evidence: [Int64]

    /// The gate `gate` evaluated on `evidence` as of `date`.
    public init(_ gate: ModelGate, _ evidence: ModelEvidence, on date: CivilDate) {
        let p = PolicyEvaluator.modelGate(gate, evidence, date: date)
        (verdict, reason, observed, self.evidence) = (p.verdict, p.reason, p.observed[gate.observedName], p.evidence.sorted())
    }
}
