import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Registers a model version: the card, with the artifact and the extraction settings given beside it. The
    /// card's digests must be those of the texts given; the log's rules check the rest (`RegisteredModel`).
    func registerModel(card: JSONValue, artifact: String, settings: String, actor: String) throws -> WriteReceipt {
        let payload = try Self.modelPayload(ModelSubmission(card: card, artifact: artifact, settings: settings))
        return appended(try append(candidate: nil, actor: actor) { state, now in
            try requireTrial(state)
            return [EventDraft(timestamp: now, actor: actor, type: .modelRegistered, candidate: nil, payload: payload)]
        })
    }

    /// The `model.registered` payload of a submitted card, whose digests must name the artifact and settings given.
    static func modelPayload(_ m: ModelSubmission) throws -> JSONValue {
        let payload = try RegisteredModel.payload(card: m.card, artifact: m.artifact, settings: m.settings)
        for (text, stated, what) in [(m.artifact, payload["artifact_sha256"], "artifact_sha256"), (m.settings, payload["extraction"]?["settings_sha256"], "extraction.settings_sha256")] {
            let digest = Digest.sha256Hex(text)
            guard let stated = stated?.stringValue else { throw TrialGateError(.missingField, "model card: needs \"\(what)\"") }
            guard stated == digest else {
                throw TrialGateError(.invalidField, "model card: \"\(what)\" \(stated) is not the SHA-256 of the \(what == "artifact_sha256" ? "artifact" : "settings") given (\(digest)); a card must name the exact file registered with it")
            }
        }
        return payload
    }

    /// The registered models, from the model events only.
    private func registeredModels() throws -> (models: [RegisteredModel], events: [Event]) {
        let events = try requireStore().events(types: [.trialInitialised, .modelRegistered])
        return (try LogState(partial: events, head: (0, "")).models, events)
    }

    func listModels() throws -> ModelsReply {
        ModelsReply(models: try registeredModels().models.map { m in
            .init(seq: m.seq, modelID: m.id, version: m.version, predicts: m.predicts, artifactSHA256: m.artifactSHA256,
                  contrastPhase: m.contrastPhase, threshold: m.threshold, registeredAt: m.registeredAt.description)
        })
    }

    func showModel(id: String, version: String) throws -> ModelCardReply {
        let (models, events) = try registeredModels()
        guard let m = models.first(where: { $0.id == id && $0.version == version }), let e = events.first(where: { $0.seq == m.seq }) else {
            let known = models.map(\.name)
            throw TrialGateError(.unknownEvent, "no model \(id)@\(version) is registered" + (known.isEmpty ? "" : " (registered: \(known.joined(separator: ", ")))"))
        }
        return ModelCardReply(seq: e.seq, registeredAt: e.timestamp.description, registeredBy: e.actor, card: e.payload)
    }

    /// The candidate's score under model `id` (version `version`, or any registered one, newest first), computed as a
    /// gate requiring QC would compute it today.
    func modelScore(candidate: String, id: String, version: String?) throws -> ModelScoreReply {
        let store = try requireStore()
        // The trial, its keys, models, policies and accounts (an attestation is checked against its signer's account).
        let modelEvents = try store.events(types: [.trialInitialised, .keyRotated, .policyPublished, .modelRegistered] + EventType.accountEvents)
        // In log order, so that every event is checked against the log as it stood.
        let events = (modelEvents + (try store.events(candidate: candidate))).sorted { $0.seq < $1.seq }
        let state = try LogState(partial: events, head: (0, ""))
        guard let c = state.candidates[candidate] else { throw TrialGateError(.unknownCandidate, "no candidate \"\(candidate)\" is registered") }
        let versions = version.map { [$0] } ?? state.models.filter { $0.id == id }.reversed().map(\.version)
        guard !versions.isEmpty else {
            throw TrialGateError(.unknownEvent, "no model \(id) is registered" + (state.models.isEmpty ? "" : " (registered: \(state.models.map(\.name).joined(separator: ", ")))"))
        }
        let result = ModelGateResult(ModelGate(model: id, versions: versions), ModelEvidence(state, candidate: c), on: clock.now().date)
        let o = result.observed
        let features = o?["features_event"]?.intValue.map(Int64.init)
        let record = features.flatMap { c.record(seq: $0) }?.current
        let lp = o?["linear_predictor"]?.numberValue
        return ModelScoreReply(
            candidate: candidate, modelID: id, version: o?["version"]?.stringValue, artifactSHA256: o?["artifact_sha256"]?.stringValue,
            featuresEvent: features, studyDate: record?["study_date"]?.stringValue, contrastPhase: record?["contrast_phase"]?.stringValue,
            qcStatus: o?["qc_status"]?.stringValue, linearPredictor: lp, probability: lp.map(ModelArtifact.probability),
            thresholdLP: o?["threshold_lp"]?.numberValue, greyZoneLP: o?["grey_zone_lp"]?.arrayValue?.compactMap(\.numberValue),
            verdict: result.verdict.rawValue, reason: result.reason, evidence: result.evidence)
    }
}
