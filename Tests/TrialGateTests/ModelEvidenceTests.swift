import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGateModels
import TrialGatePolicies
import TrialGateService
import TrialGateStore

/// A registered model, recorded features and the gate on them (docs/model-evidence.md).
@Suite struct ModelEvidenceTests {
    static let settings = "imageType:\n  Original: {}\nsetting:\n  binWidth: 25\n"
    static let lr = #"{"format":"trialgate.model/1","kind":"logistic_regression","features":[{"name":"original_firstorder_Mean","unit":"[hnsf'U]"},{"name":"original_shape_Sphericity","unit":"1"}],"means":[60.0,0.7],"scales":[20.0,0.1],"coefficients":[1.2,-0.8],"intercept":0.1}"#
    /// One feature taken as it is: the linear predictor is the feature's value, so bounds can be hit exactly.
    static let identity = #"{"format":"trialgate.model/1","kind":"logistic_regression","features":[{"name":"x","unit":"1"}],"means":[0],"scales":[1],"coefficients":[1],"intercept":0}"#

    static func card(id: String = "toy-lr", version: String = "1.0.0", artifact: String, greyZone: (Double, Double) = (0.45, 0.65)) -> JSONValue {
        func logit(_ p: Double) -> Double { log(p / (1 - p)) }
        return [
            "model_id": .string(id), "version": .string(version), "title": "Toy", "predicts": "response", "intended_use": "tests",
            "population": "synthetic", "artifact_sha256": .string(Digest.sha256Hex(artifact)),
            "extraction": ["software": "pyradiomics 3.0.1", "image_type": "Original", "resampling_mm": [1, 1, 1], "bin_width": 25,
                           "contrast_phase": "portal_venous", "settings_sha256": .string(Digest.sha256Hex(settings))],
            "training": ["dataset": "synthetic", "size": 100],
            "validation": ["dataset": "synthetic", "size": 50, "auc": 0.8, "auc_ci95": [0.7, 0.9], "calibration": "fair"],
            "operating_point": ["threshold": 0.6, "grey_zone": [.number(greyZone.0), .number(greyZone.1)], "threshold_lp": .number(logit(0.6)),
                                "grey_zone_lp": [.number(logit(greyZone.0)), .number(logit(greyZone.1))], "source": "tests"],
        ]
    }

    static func radiomics(_ features: [String: (Double, String)], qc: String = "pass", phase: String = "portal_venous", date: String,
                          settings: String = settings) -> JSONValue {
        var f: [String: JSONValue] = [
            "study_date": .string(date), "study_uid": "ST-1", "series_uid": "SE-1", "contrast_phase": .string(phase), "slice_thickness_mm": 2.5,
            "mask_sha256": .string(String(repeating: "a", count: 64)), "segmentation_reader": "reader-1", "segmentation_method": "manual",
            "qc_status": .string(qc), "software": "pyradiomics 3.0.1", "settings_sha256": .string(Digest.sha256Hex(settings)),
            "features": .object(features.mapValues { ["value": .number($0.0), "unit": .string($0.1)] }),
        ]
        if qc != "pending" { f["qc_reader"] = "reader-2"; f["qc_date"] = .string(date) }
        return .object(f)
    }

    static let policy = """
        policy: toy
        version: "1.0.0"
        title: toy
        clinical_model: 2
        criteria:
          - id: R1
            kind: inclusion
            description: model gate
            source: tests
            when: {model: toy-lr, versions: ["1.0.0"], max_age_days: 60}
        """

    /// A store with the toy model registered, the policy published and candidate C-1 registered at SITE-01.
    static func fixture(artifact: String = lr, greyZone: (Double, Double) = (0.45, 0.65)) throws -> Fixture {
        let f = try Fixture()
        try f.run(.modelRegister(card: card(artifact: artifact, greyZone: greyZone), artifact: artifact, settings: settings), as: "admin")
        try f.run(.policyPublish(text: policy, file: "toy.yaml"), as: "admin")
        try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))
        return f
    }

    var today: String { Self.today }
    static var today: String { TestClock().now().date.description }

    func decide(_ f: Fixture) throws -> (outcome: String, criterion: JSONValue) { try Self.decide(f) }

    /// Decides C-1 and answers the outcome and the model criterion R1.
    static func decide(_ f: Fixture) throws -> (outcome: String, criterion: JSONValue) {
        let d = try f.run(.decide(candidate: "C-1"))
        let c = d["decision"]?["criteria"]?.arrayValue?.first { $0["id"] == "R1" } ?? .null
        return (d["decision"]?["outcome"]?.stringValue ?? "", c)
    }

    @Test("the logistic regression's linear predictor follows the format's order of operations, bit for bit")
    func logisticRegressionBits() throws {
        let a = try ModelArtifact(text: Self.lr)
        // Computed by CPython floats in the order docs/model-evidence.md gives: s = 0; s += c·((x − m)/scale); lp = s + intercept.
        #expect(a.linearPredictor([80, 0.65]) == 1.6999999999999995)
        #expect(abs(ModelArtifact.probability(1.6999999999999995) - 0.8455347349164652) < 1e-15)
    }

    @Test("the shipped model gives the demo lesions the linear predictors scikit-learn gave them, bit for bit")
    func shippedModelMatchesScikitLearn() throws {
        let artifact = try ModelArtifact(text: ShippedModels.artifact)
        let lesions = try #require(try JSONParser.parse(ShippedModels.demoFeatures)["lesions"]?.arrayValue)
        #expect(lesions.count == 3)
        for lesion in lesions {
            let features = try #require(FeatureVector(lesion["fields"]?["features"]))
            let x = try #require(features.inputs(for: artifact).values)
            // `expected` was written by tools/radiomics/train_demo_model.py from scikit-learn's decision_function.
            #expect(.number(artifact.linearPredictor(x)) == lesion["expected"]?["linear_predictor"], "\(lesion["label"] ?? .null)")
        }
    }

    @Test("gradient-boosted trees: ≤ goes left, inputs rounded to binary32 when the artifact says so, steps added in order")
    func treesAndRounding() throws {
        func artifact(_ rounding: String) -> String {
            #"{"format":"trialgate.model/1","kind":"gradient_boosted_trees","features":[{"name":"x","unit":"1"}],"base_score":-0.25,"learning_rate":0.1,"input_rounding":""# + rounding + #"","trees":[{"nodes":[{"feature":0,"threshold":0.1,"left":1,"right":2},{"value":-1.5},{"value":2.0}]},{"nodes":[{"value":0.5}]}]}"#
        }
        let none = try ModelArtifact(text: artifact("none")), b32 = try ModelArtifact(text: artifact("binary32"))
        // 0.1 ≤ 0.1 goes left; as binary32, 0.1 is 0.100000001490116…, above the threshold, so it goes right.
        #expect(none.linearPredictor([0.1]) == (-0.25 + 0.1 * -1.5) + 0.1 * 0.5)
        #expect(b32.linearPredictor([0.1]) == (-0.25 + 0.1 * 2.0) + 0.1 * 0.5)
        #expect(none.linearPredictor([(0.1 as Double).nextUp]) == b32.linearPredictor([0.1]))
    }

    @Test("an artifact that is not as the format says is refused, naming the member", arguments: [
        (#"{"format":"trialgate.model/1","kind":"logistic_regression","features":[{"name":"x","unit":"1"}],"means":[0],"scales":[0],"coefficients":[1],"intercept":0}"#, "scales[0]"),
        (#"{"format":"trialgate.model/1","kind":"logistic_regression","features":[{"name":"x","unit":"1"}],"means":[0,1],"scales":[1],"coefficients":[1],"intercept":0}"#, "means has 2 values"),
        (#"{"format":"trialgate.model/1","kind":"gradient_boosted_trees","features":[{"name":"x","unit":"1"}],"base_score":0,"learning_rate":0.1,"input_rounding":"none","trees":[{"nodes":[{"feature":0,"threshold":1,"left":0,"right":1},{"value":1}]}]}"#, "nodes[0].left 0"),
        (#"{"format":"trialgate.model/1","kind":"logistic_regression","features":[{"name":"x","unit":"1"}],"means":[0],"scales":[1],"coefficients":[1],"intercept":0,"extra":1}"#, "extra"),
        (#"{"format":"trialgate.model/2","kind":"logistic_regression"}"#, "format"),
    ])
    func malformedArtifact(text: String, named: String) {
        #expect(throws: TrialGateError.self) { try ModelArtifact(text: text) }
        do { _ = try ModelArtifact(text: text) } catch { #expect(TrialGateError(error).message.contains(named), "\(error)") }
    }

    @Test("a card is registered once, with the artifact and settings its digests name and a consistent operating point")
    func registration() throws {
        let f = try Fixture()
        var swapped = Self.card(artifact: Self.lr)
        if case .object(var m) = swapped { m["artifact_sha256"] = .string(Digest.sha256Hex(Self.identity)); swapped = .object(m) }
        #expect(f.errorCode(.modelRegister(card: swapped, artifact: Self.lr, settings: Self.settings)) == "invalid_field")
        #expect(f.errorCode(.modelRegister(card: Self.card(artifact: Self.lr), artifact: Self.lr, settings: Self.settings + "#")) == "invalid_field")
        var badPoint = Self.card(artifact: Self.lr)
        if case .object(var m) = badPoint, case .object(var o)? = m["operating_point"] { o["threshold_lp"] = 0.41; m["operating_point"] = .object(o); badPoint = .object(m) }
        #expect(f.errorCode(.modelRegister(card: badPoint, artifact: Self.lr, settings: Self.settings)) == "invalid_field")
        #expect(f.errorCode(.policyPublish(text: Self.policy, file: "toy.yaml")) == "invalid_policy", "its model is not registered yet")
        #expect(f.errorCode(.modelRegister(card: Self.card(artifact: Self.lr), artifact: Self.lr, settings: Self.settings)) == nil)
        #expect(f.errorCode(.modelRegister(card: Self.card(artifact: Self.identity), artifact: Self.identity, settings: Self.settings)) == "version_reused")
        let listed = try f.dispatcher.perform(.models, actor: "sponsor").decode(ModelsReply.self)
        #expect(listed.models.map(\.modelID) == ["toy-lr"])
        let shown = try f.dispatcher.perform(.modelShow(id: "toy-lr", version: "1.0.0"), actor: "sponsor").decode(ModelCardReply.self)
        #expect(shown.card["artifact"]?.stringValue == Self.lr)
    }

    @Test("a radiomics record names its second reader exactly when QC is done, and is not corrected field by field")
    func radiomicsRecordRules() throws {
        let f = try Self.fixture()
        let x: [String: (Double, String)] = ["original_firstorder_Mean": (80, "[hnsf'U]"), "original_shape_Sphericity": (0.65, "1")]
        func record(_ fields: JSONValue) -> String? { f.errorCode(.record(kind: "radiomics", candidate: "C-1", fields: fields)) }
        func edit(_ v: JSONValue, _ change: (inout [String: JSONValue]) -> Void) -> JSONValue {
            guard case .object(var m) = v else { return v }
            change(&m)
            return .object(m)
        }
        let good = Self.radiomics(x, date: today)
        #expect(record(edit(good) { $0["qc_reader"] = nil }) == "missing_field")
        #expect(record(edit(good) { $0["qc_reader"] = "reader-1" }) == "invalid_field")
        #expect(record(edit(Self.radiomics(x, qc: "pending", date: today)) { $0["qc_reader"] = "reader-2" }) == "invalid_field")
        #expect(record(edit(good) { $0["features"] = ["original_firstorder_Mean": ["value": 80, "unit": "Hounsfield units"]] }) == "invalid_field")
        #expect(record(edit(good) { $0["features"] = ["original_firstorder_Mean": ["value": "80", "unit": "1"]] }) == "invalid_field")
        let seq = try f.run(.record(kind: "radiomics", candidate: "C-1", fields: good))["seq"]!.intValue!
        #expect(f.errorCode(.correct(seq: Int64(seq), field: "qc_status", value: "fail", reason: "re-read")) == "not_correctable")
    }

    @Test("the gate computes the score from the features: pass, fail, grey zone; QC, phase, age, units and settings make it unknown with the reason")
    func gateOutcomes() throws {
        let ok: [String: (Double, String)] = ["original_firstorder_Mean": (80, "[hnsf'U]"), "original_shape_Sphericity": (0.65, "1")]
        let low: [String: (Double, String)] = ["original_firstorder_Mean": (30, "[hnsf'U]"), "original_shape_Sphericity": (0.9, "1")]
        // lp = 1.2·(61 − 60)/20 + 0.1 = 0.16: probability 0.54, in the grey zone.
        let grey: [String: (Double, String)] = ["original_firstorder_Mean": (61, "[hnsf'U]"), "original_shape_Sphericity": (0.7, "1")]
        let cm: [String: (Double, String)] = ["original_firstorder_Mean": (80, "[hnsf'U]"), "original_shape_Sphericity": (0.65, "cm")]
        let old = CivilDate(daysSinceEpoch: TestClock().now().date.daysSinceEpoch - 61).description
        let cases: [(JSONValue, String, String)] = [
            (Self.radiomics(ok, date: today), "eligible", "≥ threshold"),
            (Self.radiomics(low, date: today), "ineligible", "< threshold"),
            (Self.radiomics(grey, date: today), "needs_review", "grey zone"),
            (Self.radiomics(ok, qc: "pending", date: today), "needs_review", "QC is pending"),
            (Self.radiomics(ok, qc: "fail", date: today), "needs_review", "QC is fail"),
            (Self.radiomics(ok, phase: "arterial", date: today), "needs_review", "no radiomics features from the portal_venous phase"),
            (Self.radiomics(ok, date: old), "needs_review", "61 days old"),
            (Self.radiomics(cm, date: today), "needs_review", "recorded in cm; the model takes it in 1"),
            (Self.radiomics(ok, date: today, settings: "binWidth: 10\n"), "needs_review", "which no accepted version expects"),
        ]
        for (fields, outcome, reason) in cases {
            let f = try Self.fixture()
            try f.run(.record(kind: "radiomics", candidate: "C-1", fields: fields))
            let (got, criterion) = try decide(f)
            #expect(got == outcome, "\(criterion)")
            #expect(criterion["reason"]?.stringValue?.contains(reason) == true, "\(criterion)")
        }
    }

    @Test("bounds: the threshold passes, one ulp below fails; the grey zone is [low, high)", arguments: [
        // (grey zone, the card's bound the feature sits on, ulps moved down from it, expected outcome)
        (0.6, 0.6, "threshold_lp", 0, "eligible"), (0.6, 0.6, "threshold_lp", 1, "ineligible"),
        (0.45, 0.65, "low", 0, "needs_review"), (0.45, 0.65, "low", 1, "ineligible"),
        (0.45, 0.65, "high", 0, "eligible"), (0.45, 0.65, "high", 1, "needs_review"),
    ])
    func bounds(low: Double, high: Double, bound: String, ulpsDown: Int, outcome: String) throws {
        let f = try Self.fixture(artifact: Self.identity, greyZone: (low, high))
        let point = try #require(try f.run(.modelShow(id: "toy-lr", version: "1.0.0"), as: "sponsor")["card"]?["operating_point"])
        let on = try #require((bound == "threshold_lp" ? point["threshold_lp"] : point["grey_zone_lp"]?.arrayValue?[bound == "low" ? 0 : 1])?.numberValue)
        let value = ulpsDown == 0 ? on : on.nextDown
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: Self.radiomics(["x": (value, "1")], date: today)))
        let (got, criterion) = try decide(f)
        #expect(got == outcome, "\(criterion)")
        #expect(criterion["observed"]?["model.toy-lr"]?["linear_predictor"] == .number(value), "the identity model's linear predictor is the feature")
    }

    @Test("a score from outside is held to the registered model and the recorded features")
    func suppliedScores() throws {
        let f = try Self.fixture()
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: Self.radiomics(["original_firstorder_Mean": (80, "[hnsf'U]"), "original_shape_Sphericity": (0.65, "1")], date: today)))
        func score(_ s: Double, version: String = "1.0.0", artifact: String = Digest.sha256Hex(Self.lr), model: String = "toy-lr") -> String? {
            f.errorCode(.record(kind: "model-score", candidate: "C-1", fields: [
                "model": .string(model), "version": .string(version), "artifact_sha256": .string(artifact), "score": .number(s),
                "predicts": "response", "study_date": .string(today)]))
        }
        #expect(score(0.8455347349164652 + 1e-6) == "invalid_field", "differs from the recomputed score")
        #expect(score(0.8455347349164652, version: "2.0.0") == "invalid_field", "an unregistered version")
        #expect(score(0.8455347349164652, artifact: Digest.sha256Hex(Self.identity)) == "invalid_field", "another artifact")
        #expect(score(0.8455347349164652) == nil)
        #expect(score(0.3, model: "unregistered-model") == nil, "a model the log does not know stays possible")
        let r = try f.dispatcher.perform(.modelScore(candidate: "C-1", model: "toy-lr", version: nil), actor: "coordinator").decode(ModelScoreReply.self)
        #expect(r.linearPredictor == 1.6999999999999995 && r.verdict == "pass" && r.featuresEvent != nil)
    }

    @Test("a score supplied without its features is not enough for the gate")
    func suppliedOnly() throws {
        let f = try Self.fixture()
        try f.run(.record(kind: "model-score", candidate: "C-1", fields: [
            "model": "toy-lr", "version": "1.0.0", "artifact_sha256": .string(Digest.sha256Hex(Self.lr)), "score": 0.9,
            "predicts": "response", "study_date": .string(today)]))
        let (outcome, criterion) = try decide(f)
        #expect(outcome == "needs_review")
        #expect(criterion["reason"]?.stringValue?.contains("without its features") == true)
    }

    @Test("who may register, list and score: an admin registers; a coordinator scores only their own site's candidates")
    func access() throws {
        let f = try Self.fixture()
        let coordinator = Principal(name: "bob", role: .coordinator, sites: ["SITE-02"])
        #expect(throws: TrialGateError.self) { try f.dispatcher.execute(.modelScore(candidate: "C-1", model: "toy-lr", version: nil), principal: coordinator) }
        #expect(throws: TrialGateError.self) {
            try f.dispatcher.execute(.modelRegister(card: Self.card(version: "2.0.0", artifact: Self.lr), artifact: Self.lr, settings: Self.settings), principal: coordinator)
        }
        _ = try f.dispatcher.execute(.models, principal: coordinator)
        let parsed = try Command.parse(try JSONParser.parse(#"{"cmd":"model.score","candidate":"C-1","model":"toy-lr"}"#))
        #expect(parsed == .modelScore(candidate: "C-1", model: "toy-lr", version: nil))
    }

    @Test("verify catches a swapped artifact, a score that does not match its features, and a decision that passed a failed QC")
    func verifyCatches() throws {
        let f = try Self.fixture()
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: Self.radiomics(["original_firstorder_Mean": (80, "[hnsf'U]"), "original_shape_Sphericity": (0.65, "1")], qc: "fail", date: today)))
        try f.run(.record(kind: "model-score", candidate: "C-1", fields: [
            "model": "toy-lr", "version": "1.0.0", "artifact_sha256": .string(Digest.sha256Hex(Self.lr)), "score": 0.8455347349164652,
            "predicts": "response", "study_date": .string(today)]))
        #expect(try decide(f).outcome == "needs_review")
        #expect(try f.run(.verify(), as: "regulator")["valid"] == true)
        func codes(_ change: @escaping (Event, inout EventDraft) -> Void) throws -> Set<String> {
            let forged = try f.forgedCopy(change)
            defer { forged.close(); try? FileManager.default.removeItem(atPath: f.dir.path + "/forged.sqlite") }
            let v = try Dispatcher(store: forged, clock: f.clock, key: { f.key }).execute(.verify(), actor: "regulator")
            return Set((v["problems"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue })
        }
        func edit(_ draft: inout EventDraft, _ change: (inout [String: JSONValue]) -> Void) {
            guard case .object(var m) = draft.payload else { return }
            change(&m)
            draft.payload = .object(m)
        }
        // The artifact swapped for another, its card's digest left as registered.
        #expect(try codes { e, d in if e.type == .modelRegistered { edit(&d) { $0["artifact"] = .string(Self.lr.replacingOccurrences(of: "1.2", with: "2.4")) } } }.contains("model_digest"))
        // The supplied score moved away from what the features give.
        #expect(try codes { e, d in if e.type == .modelScoreRecorded { edit(&d) { $0["score"] = 0.5 } } }.contains("invalid_event"))
        // The score's version changed to one the log never registered.
        #expect(try codes { e, d in if e.type == .modelScoreRecorded { edit(&d) { $0["version"] = "9.9.9" } } }.contains("invalid_event"))
        // QC turned from fail to pass: the decision no longer re-derives.
        #expect(try codes { e, d in if e.type == .radiomicsRecorded { edit(&d) { $0["qc_status"] = "pass" } } }.contains("decision_mismatch"))
        // A feature value edited: the decision no longer re-derives either (and the score no longer matches).
        #expect(try codes { e, d in if e.type == .radiomicsRecorded { edit(&d) { $0["features"] = ["original_firstorder_Mean": ["value": 81, "unit": "[hnsf'U]"], "original_shape_Sphericity": ["value": 0.65, "unit": "1"]] } } }.contains("invalid_event"))
    }
}
