import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

/// What an attacker's review of the model evidence tried, each now refused or left undecided (docs/threat-model.md
/// C16–C18). The store, model and policy are `ModelEvidenceTests`'.
@Suite struct ModelProvenanceTests {
    typealias E = ModelEvidenceTests
    var today: String { E.today }
    func decide(_ f: Fixture) throws -> (outcome: String, criterion: JSONValue) { try E.decide(f) }

    static let ok: [String: (Double, String)] = ["original_firstorder_Mean": (80, "[hnsf'U]"), "original_shape_Sphericity": (0.65, "1")]
    func supplied(_ score: Double, model: String = "toy-lr") -> Command {
        .record(kind: "model-score", candidate: "C-1", fields: [
            "model": .string(model), "version": "1.0.0", "artifact_sha256": .string(Digest.sha256Hex(E.lr)), "score": .number(score),
            "predicts": "response", "study_date": .string(today)])
    }

    @Test("a feature value that overflows the model gives needs_review, and a score cannot be checked against it: nothing crashes")
    func nonFiniteLinearPredictor() throws {
        let f = try E.fixture()
        let huge: [String: (Double, String)] = ["original_firstorder_Mean": (80, "[hnsf'U]"), "original_shape_Sphericity": (1e308, "1")]
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: E.radiomics(huge, date: today)))
        let (outcome, criterion) = try decide(f)
        #expect(outcome == "needs_review")
        #expect(criterion["reason"]?.stringValue?.contains("not a finite number") == true, "\(criterion)")
        let r = try f.dispatcher.perform(.modelScore(candidate: "C-1", model: "toy-lr", version: nil), actor: "coordinator").decode(ModelScoreReply.self)
        #expect(r.verdict == "unknown" && r.linearPredictor == nil)
        #expect(f.errorCode(supplied(0.9)) == "invalid_field")
        #expect(try f.run(.verify(), as: "regulator")["valid"] == true)
    }

    @Test("a supplied score is held to the features whatever the order, through corrections, and under its exact model id")
    func suppliedScoreLoopholes() throws {
        let f = try E.fixture()
        // Supplied first, wrong: accepted (no features yet), but the features then refuse to stand beside it.
        let first = try f.run(supplied(0.99))["seq"]!.intValue!
        #expect(f.errorCode(.record(kind: "radiomics", candidate: "C-1", fields: E.radiomics(Self.ok, date: today))) == "invalid_field")
        // Corrected to the score the features give, the features go in; a correction away from it is refused.
        try f.run(.correct(seq: Int64(first), field: "score", value: 0.8455347349164652, reason: "re-run of the model"))
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: E.radiomics(Self.ok, date: today)))
        #expect(f.errorCode(.correct(seq: Int64(first), field: "score", value: 0.99, reason: "typo")) == "invalid_field")
        #expect(f.errorCode(.correct(seq: Int64(first), field: "version", value: "9.9.9", reason: "typo")) == "invalid_field")
        #expect(f.errorCode(supplied(0.99, model: "TOY-LR")) == "invalid_field", "a case variant of a registered id")
        #expect(try f.run(.verify(), as: "regulator")["valid"] == true)
    }

    @Test("a model scores only features of the phase and software it was validated on; a policy cannot ask for another phase")
    func phaseAndSoftware() throws {
        let f = try E.fixture()
        let arterial = E.policy.replacingOccurrences(of: "max_age_days: 60}", with: "contrast_phase: arterial}").replacingOccurrences(of: "\"1.0.0\"\ntitle", with: "\"1.1.0\"\ntitle")
        #expect(f.errorCode(.policyPublish(text: arterial, file: "arterial.yaml")) == "invalid_policy")
        guard case .object(var fields) = E.radiomics(Self.ok, date: today) else { return }
        fields["software"] = "pyradiomics 2.0.0"
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: .object(fields)))
        let (outcome, criterion) = try decide(f)
        #expect(outcome == "needs_review")
        #expect(criterion["reason"]?.stringValue?.contains("validated with pyradiomics 3.0.1") == true, "\(criterion)")
    }

    @Test("the second reader is another person whatever the letter case")
    func qcReaderCase() throws {
        let f = try E.fixture()
        guard case .object(var fields) = E.radiomics(Self.ok, date: today) else { return }
        fields["qc_reader"] = "READER-1"
        #expect(f.errorCode(.record(kind: "radiomics", candidate: "C-1", fields: .object(fields))) == "invalid_field")
    }

    @Test("verify --bundle refuses a model file that is not the registered artifact")
    func bundleModelFile() throws {
        let f = try E.fixture()
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: E.radiomics(Self.ok, date: today)))
        _ = try decide(f)
        let dir = f.dir.path + "/bundle"
        _ = try f.dispatcher.perform(.exportBundle(directory: dir), actor: "regulator")
        #expect(BundleVerifier.verify(directory: dir).valid)
        let file = dir + "/models/toy-lr@1.0.0.json"
        try Data(E.lr.replacingOccurrences(of: "\"intercept\":0.1", with: "\"intercept\":-9").utf8).write(to: URL(fileURLWithPath: file))
        try BundleEditor(dir: dir).fixManifest()
        let r = BundleVerifier.verify(directory: dir)
        #expect(!r.valid)
        #expect(r.problems.contains { $0.code == "model_file" }, "\(r.problems)")
    }

    @Test("a radiomics record after a decision makes it stale in the report too, and a report snapshot saved then verifies")
    func radiomicsAfterDecisionInReports() throws {
        let f = try E.fixture()
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: E.radiomics(Self.ok, date: today)))
        _ = try decide(f)
        try f.run(.record(kind: "radiomics", candidate: "C-1", fields: E.radiomics(Self.ok, date: today)))
        // The report read only some record kinds, radiomics not among them: it showed the decision as current, and its
        // signed snapshot was not the fold `verify` makes.
        let report = CanonicalJSON.string(try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"), as: "regulator"))
        #expect(report.contains("\"stale\""), "\(report.prefix(600))")
        _ = try f.run(.reportSnapshot, as: "admin")
        let verified = try f.run(.verify(), as: "regulator")
        #expect(verified["valid"] == true && verified["report_snapshots_checked"] == 1, "\(verified)")
    }
}
