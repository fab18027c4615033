/// A model version registered in the log (`model.registered`): its card, its artifact and the extraction settings
/// it expects. Registered once, never changed; a policy's model gate names it by id and version.
public struct RegisteredModel: Sendable, Equatable {
    public let seq: Int64
    public let registeredAt: UTCTimestamp
    public let id: String
    public let version: String
    public let predicts: String
    public let artifactSHA256: String
    /// The artifact's text exactly as registered: its SHA-256 is `artifactSHA256`.
    public let artifactText: String
    public let artifact: ModelArtifact
    /// The contrast phase the features must come from.
    public let contrastPhase: String
    /// The extraction software (and version) the model was validated with.
    public let software: String
    /// The SHA-256 of the extraction settings the features must be extracted with, and the settings' text.
    public let settingsSHA256: String
    public let settingsText: String
    /// The operating point: probabilities for display, and the same in linear-predictor units for the verdict.
    public let threshold: Double
    public let greyZone: (low: Double, high: Double)
    public let thresholdLP: Double
    public let greyZoneLP: (low: Double, high: Double)

    /// `id@version`.
    public var name: String { "\(id)@\(version)" }

    public static func == (a: RegisteredModel, b: RegisteredModel) -> Bool { a.seq == b.seq && a.artifactSHA256 == b.artifactSHA256 }

    /// The contrast phases a CT can be read in.
    public static let contrastPhases = ["non_contrast", "arterial", "portal_venous", "delayed"]

    /// Reads and checks a `model.registered` payload: every member of the card, the artifact's structure, and an
    /// operating point whose linear-predictor values are the logits of its probabilities. The SHA-256 digests are
    /// checked where hashing lives (the writer, and `verify`'s auditor).
    /// - Throws: `invalid_field`, `missing_field` or `unknown_field` naming the member.
    public init(payloadOf event: Event) throws {
        try self.init(payload: event.payload, seq: event.seq, registeredAt: event.timestamp)
    }

    /// Reads and checks a card as `init(payloadOf:)` does, for a registration at `seq`.
    public init(payload: JSONValue, seq: Int64, registeredAt: UTCTimestamp) throws {
        let context = "model.registered"
        var r = try ObjectReader(payload, context: context)
        func text(_ key: String, _ limit: Int, _ reader: inout ObjectReader, _ at: String = context) throws -> String {
            let s = try reader.string(key)
            if s.isEmpty || s.count > limit { throw TrialGateError(.invalidField, "\(at): \"\(key)\" must be 1 to \(limit) characters") }
            if let why = SignedText.problem(s, maxLength: limit, multiline: true) { throw TrialGateError(.invalidField, "\(at): \"\(key)\" must be \(why)") }
            return s
        }
        func number(_ key: String, _ reader: inout ObjectReader, _ at: String, _ range: ClosedRange<Double>) throws -> Double {
            let v = try reader.value(key)
            guard let n = v.numberValue, range.contains(n) else {
                throw TrialGateError(.invalidField, "\(at): \"\(key)\" must be a number from \(CanonicalJSON.formatNumber(range.lowerBound)) to \(CanonicalJSON.formatNumber(range.upperBound)), got \(CanonicalJSON.string(v))")
            }
            return n
        }
        func pair(_ key: String, _ reader: inout ObjectReader, _ at: String, _ range: ClosedRange<Double>) throws -> (low: Double, high: Double) {
            let v = try reader.value(key)
            guard let list = v.arrayValue, list.count == 2, let a = list[0].numberValue, let b = list[1].numberValue, range.contains(a), range.contains(b), a <= b else {
                throw TrialGateError(.invalidField, "\(at): \"\(key)\" must be [low, high] with low ≤ high, within \(CanonicalJSON.formatNumber(range.lowerBound)) to \(CanonicalJSON.formatNumber(range.upperBound)), got \(CanonicalJSON.string(v))")
            }
            return (a, b)
        }
        func sha(_ key: String, _ reader: inout ObjectReader, _ at: String) throws -> String {
            let s = try reader.string(key)
            guard RecordSchema.isSHA256Hex(s) else {
                throw TrialGateError(.invalidField, "\(at): \"\(key)\" must be a lower-case hex SHA-256 (64 characters), got \"\(s)\"")
            }
            return s
        }
        func object(_ key: String, _ reader: inout ObjectReader) throws -> ObjectReader {
            try ObjectReader(try reader.value(key), context: "\(context) \(key)")
        }
        id = try r.string("model_id")
        version = try r.string("version")
        try RecordSchema.validateIdentifier(id, what: "\(context): model_id")
        try RecordSchema.validateIdentifier(version, what: "\(context): version")
        _ = try text("title", 200, &r)
        predicts = try text("predicts", 256, &r)
        _ = try text("intended_use", 2000, &r)
        _ = try text("population", 2000, &r)
        artifactSHA256 = try sha("artifact_sha256", &r, context)
        artifactText = try r.string("artifact")
        artifact = try ModelArtifact(text: artifactText)

        var x = try object("extraction", &r)
        let at = "\(context) extraction"
        software = try text("software", 128, &x, at)
        _ = try text("image_type", 64, &x, at)
        let resampling = try x.value("resampling_mm")
        guard let spacing = resampling.arrayValue, spacing.count == 3, spacing.allSatisfy({ ($0.numberValue ?? 0) > 0 }) else {
            throw TrialGateError(.invalidField, "\(at): \"resampling_mm\" must be three spacings in mm, each > 0, got \(CanonicalJSON.string(resampling))")
        }
        _ = try number("bin_width", &x, at, Double.leastNonzeroMagnitude...1e6)
        let phase = try x.string("contrast_phase")
        guard Self.contrastPhases.contains(phase) else {
            throw TrialGateError(.invalidField, "\(at): \"contrast_phase\" must be one of \(Self.contrastPhases.joined(separator: ", ")), got \"\(phase)\"")
        }
        contrastPhase = phase
        settingsText = try x.string("settings")
        settingsSHA256 = try sha("settings_sha256", &x, at)
        try x.finish()

        var t = try object("training", &r)
        _ = try text("dataset", 500, &t, "\(context) training")
        _ = try Self.count("size", &t, "\(context) training")
        try t.finish()
        var v = try object("validation", &r)
        let vat = "\(context) validation"
        _ = try text("dataset", 500, &v, vat)
        _ = try Self.count("size", &v, vat)
        let auc = try number("auc", &v, vat, 0...1)
        let ci = try pair("auc_ci95", &v, vat, 0...1)
        guard ci.low <= auc, auc <= ci.high else {
            throw TrialGateError(.invalidField, "\(vat): \"auc_ci95\" [\(CanonicalJSON.formatNumber(ci.low)), \(CanonicalJSON.formatNumber(ci.high))] must contain the auc \(CanonicalJSON.formatNumber(auc))")
        }
        _ = try text("calibration", 1000, &v, vat)
        try v.finish()

        var o = try object("operating_point", &r)
        let oat = "\(context) operating_point"
        let open = Double.leastNonzeroMagnitude...(1 - Double.ulpOfOne / 2)
        threshold = try number("threshold", &o, oat, open)
        greyZone = try pair("grey_zone", &o, oat, open)
        thresholdLP = try number("threshold_lp", &o, oat, -1e6...1e6)
        greyZoneLP = try pair("grey_zone_lp", &o, oat, -1e6...1e6)
        _ = try text("source", 1000, &o, oat)
        try o.finish()
        guard greyZone.low <= threshold, threshold <= greyZone.high, greyZoneLP.low <= thresholdLP, thresholdLP <= greyZoneLP.high else {
            throw TrialGateError(.invalidField, "\(oat): the grey zone must contain the threshold, in probabilities and in linear-predictor units")
        }
        for (name, p, lp) in [("threshold", threshold, thresholdLP), ("grey_zone[0]", greyZone.low, greyZoneLP.low), ("grey_zone[1]", greyZone.high, greyZoneLP.high)] {
            let logit = ModelArtifact.logit(p)
            guard abs(logit - lp) <= 1e-9 else {
                throw TrialGateError(.invalidField, "\(oat): the linear predictor of \(name) must be ln(p / (1 − p)) = \(CanonicalJSON.formatNumber(logit)) to 1e-9, got \(CanonicalJSON.formatNumber(lp))")
            }
        }
        try r.finish()
        self.seq = seq
        self.registeredAt = registeredAt
    }

    /// The `model.registered` payload of a card given with its artifact and settings beside it (as `model register`
    /// takes them): the card must not carry either text itself.
    /// - Throws: `invalid_field` or `missing_field` naming what is wrong.
    public static func payload(card: JSONValue, artifact: String, settings: String) throws -> JSONValue {
        guard case .object(var members) = card else {
            throw TrialGateError(.invalidField, "model card: must be a JSON object, not \(card.typeName)")
        }
        if members["artifact"] != nil {
            throw TrialGateError(.invalidField, "model card: carries no \"artifact\": the artifact is given on its own (artifact, or --artifact FILE)")
        }
        guard case .object(var extraction)? = members["extraction"] else {
            throw TrialGateError(.missingField, "model card: needs \"extraction\" (the settings the features must be extracted with)")
        }
        if extraction["settings"] != nil {
            throw TrialGateError(.invalidField, "model card: its extraction carries no \"settings\": they are given on their own (settings, or --settings FILE)")
        }
        members["artifact"] = .string(artifact)
        extraction["settings"] = .string(settings)
        members["extraction"] = .object(extraction)
        return .object(members)
    }

    private static func count(_ key: String, _ reader: inout ObjectReader, _ at: String) throws -> Int {
        let v = try reader.value(key)
        guard let n = v.intValue, n >= 1 else { throw TrialGateError(.invalidField, "\(at): \"\(key)\" must be a whole number ≥ 1, got \(CanonicalJSON.string(v))") }
        return n
    }
}
