import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService

private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The events of a bundle written by an older build (`Fixtures/legacy-10d079c/`).
private func legacyEvents(_ name: String) throws -> [Event] {
    try fixtureText("legacy-10d079c/\(name)/events.jsonl").split(separator: "\n").map { line in
        try Event(json: try JSONParser.parse(Array(line.utf8)))
    }
}

private func legacyDirectory(_ name: String) throws -> String {
    guard let base = Bundle.module.resourceURL else { throw TrialGateError(.internal, "no test resources") }
    return base.appendingPathComponent("Fixtures/legacy-10d079c/\(name)").path
}

@Suite("Old stores keep their meaning")
struct LegacyReplayTests {
    @Test("bundles written before clinical model 2 verify, and every decision re-derives byte for byte", arguments: ["tour", "demo"])
    func legacyBundleReplays(name: String) throws {
        let dir = try legacyDirectory(name)
        let r = BundleVerifier.verify(directory: dir)
        #expect(r.valid, "\(r.problems)")
        #expect(r.decisions > 0 && r.decisionsReproduced == r.decisions, "\(r.decisionsReproduced)/\(r.decisions)")
        let (status, out) = try shell(["python3", repoRoot + "/audit/verify_bundle.py", dir])
        #expect(status == 0, "\(out)")
    }

    @Test("an old log's events are schema 1 and its policy model 1: entry order, GI grading, bare numbers")
    func legacyDecisionsUsedModel1() throws {
        let events = try legacyEvents("tour")
        #expect(events.allSatisfy { $0.schemaVersion == 1 })
        var state = LogState()
        for e in events { try state.apply(e) }
        let policy = try PolicyLoader.load(state.policyInForce!.text)
        #expect(policy.clinicalModel == .entryOrder)
        // L-001: Ki-67 8 % (specimen 2026-10-01) and then an older specimen's 25 % (2025-01-10) entered later.
        let l1 = state.candidates["L-001"]!
        #expect(l1.decisions.last?.outcome == "ineligible" && l1.decisions.last?.results["I3-grade"] == "fail")
        #expect(l1.facts(model: .entryOrder)["ki67.percent"]?.value == 25)
        // Model 2 reads the same events by observation time: the current specimen is in force, the old one superseded.
        let now = l1.currentFacts(model: .observationTime)
        #expect(now.facts["ki67.percent"]?.value == 8)
        #expect(now.superseded.contains { $0.fact == "ki67.percent" && $0.value == 25 && $0.why.contains("before event") })
        // L-003: the haemoglobin of 12.4 in the g/L field of schema 1 stays 12.4 g/L: its meaning does not change.
        let l3 = state.candidates["L-003"]!.facts(model: .observationTime)
        #expect(l3["clinical.haemoglobin"]?.value == 12.4 && l3["clinical.haemoglobin"]?.unit == "g/L")
        #expect(l3["clinical.bilirubin_x_uln"]?.value == 1)
        // L-002: a mitotic count of 3.7 per 10 HPF was valid under schema 1 and still replays.
        let l2 = state.candidates["L-002"]!
        #expect(l2.facts(model: .entryOrder)["mitotic_count.count"]?.value == 3.7)
        #expect(l2.decisions.last?.outcome == "eligible")
    }

    @Test("a schema 1 record is corrected under schema 1's rules; a new record is held to schema 2's")
    func correctionsKeepTheirSchema() throws {
        let at = UTCTimestamp("2026-07-01T09:00:00.000Z")!
        func event(_ seq: Int64, _ type: EventType, _ payload: JSONValue, schema: Int) -> Event {
            Event(seq: seq, timestamp: at, actor: "a", type: type, candidate: type == .trialInitialised ? nil : "C-1", schemaVersion: schema,
                  payload: payload, prevHash: Event.genesisHash, hash: Event.genesisHash)
        }
        var state = LogState()
        try state.apply(event(1, .trialInitialised, ["trial_id": "T", "log_origin": "o", "public_key": "k", "key_id": "i"], schema: 1), strict: false)
        try state.apply(event(2, .candidateRegistered, ["site": "S1"], schema: 1), strict: false)
        try state.apply(event(3, .clinicalRecorded, ["assessed_on": "2026-06-01", "haemoglobin": 120], schema: 1), strict: false)
        // A bare number corrects a schema 1 haemoglobin (g/L by that schema's definition).
        try state.apply(event(4, .entryCorrected, ["corrects": 3, "field": "haemoglobin", "old_value": 120, "new_value": 118, "reason": "re-run"], schema: 2), strict: false)
        // The same bare number in a new record is refused: schema 2 wants the unit.
        #expect(throws: TrialGateError.self) {
            try state.apply(event(5, .clinicalRecorded, ["assessed_on": "2026-06-02", "haemoglobin": 118], schema: 2), strict: false)
        }
        // Pathology does not exist in schema 1.
        #expect(throws: TrialGateError.self) {
            try state.apply(event(5, .pathologyRecorded, ["specimen_date": "2026-06-02", "primary_organ": "C17.2", "tumour_type": "NET",
                                                          "differentiation": "well", "review": "central"], schema: 1), strict: false)
        }
        #expect(state.candidates["C-1"]!.facts(model: .observationTime)["clinical.haemoglobin"]?.value == 118)
    }

    @Test("in a whole log, schema versions never go down: an older build's event after a newer one is refused")
    func schemaVersionsNeverGoDown() throws {
        let at = UTCTimestamp("2026-07-01T09:00:00.000Z")!
        let trial = Event(seq: 1, timestamp: at, actor: "a", type: .trialInitialised, candidate: nil, schemaVersion: 1,
                          payload: ["trial_id": "T", "log_origin": "o", "public_key": "k", "key_id": "i"], prevHash: Event.genesisHash, hash: Event.genesisHash)
        func register(_ seq: Int64, _ id: String, schema: Int) -> Event {
            Event(seq: seq, timestamp: at, actor: "a", type: .candidateRegistered, candidate: id, schemaVersion: schema, payload: ["site": "S1"],
                  prevHash: Event.genesisHash, hash: Event.genesisHash)
        }
        var state = LogState()
        try state.apply(trial)
        try state.apply(register(2, "C-1", schema: 2))
        #expect { try state.apply(register(3, "C-2", schema: 1)) } throws: { ($0 as? TrialGateError)?.message.contains("schema version 1 after an event of version 2") == true }
        #expect(state.size == 2)
    }
}

@Suite("Clinical input: units, limits, counts, organs")
struct ClinicalInputTests {
    func registered() throws -> Fixture {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "C-1", fields: ["site": "S1"]))
        return f
    }

    /// A bad record: the error code and the words its message must contain (field, value, unit expected, limit).
    struct BadRecord: Sendable, CustomTestStringConvertible {
        let kind: String
        let fields: JSONValue
        let code: String
        let words: [String]
        init(_ kind: String, _ fields: JSONValue, _ code: String, _ words: [String]) {
            (self.kind, self.fields, self.code, self.words) = (kind, fields, code, words)
        }
        var testDescription: String { "\(kind) \(CanonicalJSON.string(fields))" }
    }

    static let badRecords: [BadRecord] = [
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": 12.4], "invalid_field", ["\"haemoglobin\" 12.4 has no unit", "g/L, g/dL or mmol/L"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "12.4 g/L"], "invalid_field", ["\"haemoglobin\" 12.4 g/L is outside what is possible, 20 to 250 g/L", "another unit"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "12.4 umol/L"], "invalid_field", ["umol/L is not a unit of haemoglobin", "g/L, g/dL or mmol/L"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "twelve g/dL"], "invalid_field", ["\"haemoglobin\" \"twelve g/dL\" is not a decimal number (at most 4 decimals) and a unit", "e.g. \"12.8 g/dL\""]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "30 g/L"], "invalid_field", ["30 g/L is outside the usual range 60 to 200 g/L", "confirm_unusual=[\"haemoglobin\"]"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "3 g/dL"], "invalid_field", ["3 g/dL (30 g/L) is outside the usual range 60 to 200 g/L"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "bilirubin": "25 umol/L"], "missing_field", ["\"bilirubin\" 25 umol/L needs the laboratory's upper limit", "bilirubin_upper_limit"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "bilirubin": "12 {ULN}"], "invalid_field", ["12 {ULN} is outside the usual range 0 to 10 {ULN}"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "bilirubin_upper_limit": "1 {ULN}"], "invalid_field", ["{ULN} is not a unit of bilirubin_upper_limit"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "anc": "1.5"], "invalid_field", ["\"anc\" \"1.5\" is not a decimal number", "10*9/L"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "systolic_bp": "14 mm[Hg]"], "invalid_field", ["14 mm[Hg] is outside what is possible, 40 to 300 mm[Hg]"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "ecog": 1.5], "invalid_field", ["\"ecog\" must be a whole number, got 1.5"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "primary_site": "pancreatic"], "unknown_field", ["\"primary_site\""]),
        BadRecord("mitotic-count", ["count": 3.7, "unit": "per_2mm2", "specimen_date": "2026-03-02"], "invalid_field", ["\"count\" must be a whole number, got 3.7"]),
        BadRecord("mitotic-count", ["count": 3, "unit": "per_10hpf", "specimen_date": "2026-03-02"], "missing_field", ["\"hpf_area_mm2\" is required when unit is per_10hpf"]),
        BadRecord("mitotic-count", ["count": 3, "unit": "per_10hpf", "hpf_area_mm2": 2, "specimen_date": "2026-03-02"], "invalid_field", ["\"hpf_area_mm2\" must be between 0.1 and 0.4, got 2"]),
        BadRecord("pathology", ["specimen_date": "2026-03-02", "primary_organ": "C99.9", "tumour_type": "NET", "differentiation": "well", "review": "central"], "invalid_field", ["\"primary_organ\" must be an ICD-O-3 topography code", "C99.9"]),
        BadRecord("pathology", ["specimen_date": "2026-03-02", "primary_organ": "C17.2", "tumour_type": "carcinoid", "differentiation": "well", "review": "central"], "invalid_field", ["\"tumour_type\" must be one of NET, NEC, MiNEN"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "89.99996 g/L"], "invalid_field", ["is not a decimal number (at most 4 decimals)"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "30 g/dL"], "invalid_field", ["30 g/dL (300 g/L) is outside what is possible, 20 to 250 g/L"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "-5 g/L"], "invalid_field", ["-5 g/L is outside what is possible, 20 to 250 g/L"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "bilirubin": "40 umol/L", "bilirubin_upper_limit": "21 mg/dL"], "invalid_field", ["\"bilirubin_upper_limit\" 21 mg/dL (359.184 umol/L) is outside the usual range 5 to 40 umol/L"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "bilirubin": "40 umol/L", "bilirubin_upper_limit": "0.0001 umol/L", "confirm_unusual": ["bilirubin_upper_limit"]], "invalid_field", ["× its upper limit 0.0001 umol/L, outside what is possible, 0 to 100 {ULN}"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "bilirubin_upper_limit": "21 umol/L"], "missing_field", ["\"bilirubin_upper_limit\" goes with a \"bilirubin\" value"]),
        BadRecord("clinical", ["assessed_on": "2026-06-30", "haemoglobin": "12 g/dL", "confirm_unusual": ["haemoglobin", "anc"]], "invalid_field", ["confirm_unusual names \"anc\", but this record has no unusual anc value"]),
        BadRecord("attestation", ["criterion": "I1-informed-consnet", "result": "pass", "attested_on": "2026-06-30"], "invalid_field", ["\"I1-informed-consnet\" is not attested under policy sanet-ep 2.0.0", "I1-informed-consent"]),
        BadRecord("attestation", ["criterion": "I2-age", "result": "fail", "attested_on": "2026-06-30"], "invalid_field", ["\"I2-age\" is not attested"]),
        BadRecord("attestation", ["criterion": "I1-informed-consent", "result": "yes", "attested_on": "2026-06-30"], "invalid_field", ["\"result\" must be one of pass, fail"]),
    ]

    @Test("bad clinical input names the field, the value, the unit expected and the limit, and appends nothing", arguments: badRecords)
    func badInput(_ bad: BadRecord) throws {
        let (kind, fields, code, words) = (bad.kind, bad.fields, bad.code, bad.words)
        let f = try registered()
        // An attestation is an investigator's signed statement: its fields are checked when it is prepared.
        if kind == "attestation" { try TestSigner.add(f, "ann", sites: ["S1"], seed: 41) }
        let before = try f.size()
        do {
            if kind == "attestation" {
                try f.run(.attestPrepare(candidate: "C-1", fields: fields, user: "ann"), as: "ann")
            } else {
                try f.run(.record(kind: kind, candidate: "C-1", fields: fields))
            }
            Issue.record("accepted \(kind) \(CanonicalJSON.string(fields))")
        } catch {
            let e = TrialGateError(error)
            #expect(e.code.rawValue == code, "\(e.message)")
            for w in words { #expect(e.message.contains(w), "\(e.message) lacks \(w)") }
        }
        #expect(try f.size() == before)
    }

    @Test("an unusual value is recorded once confirmed, and the confirmation is kept in the event")
    func confirmedUnusualValue() throws {
        let f = try registered()
        let r = try f.run(.record(kind: "clinical", candidate: "C-1", fields: ["assessed_on": "2026-06-30", "haemoglobin": "30 g/L",
                                                                               "confirm_unusual": ["haemoglobin"]]))
        let seq = Int64(r["seq"]!.intValue!)
        #expect(try f.store.event(seq: seq)?.payload["confirm_unusual"] == ["haemoglobin"])
        // A correction is held to the same edit check: removing the confirmation of a still unusual value is refused.
        #expect(f.errorCode(.correct(seq: seq, field: "confirm_unusual", value: .null, reason: "tidy")) == "invalid_field")
    }

    @Test("units convert to the policy's unit at the decision, and the record keeps what was entered")
    func unitsConvert() throws {
        let f = try registered()
        let r = try f.run(.record(kind: "clinical", candidate: "C-1", fields: ["assessed_on": "2026-06-30", "haemoglobin": "5.58 mmol/L", "anc": "1500 /uL"]))
        #expect(try f.store.event(seq: Int64(r["seq"]!.intValue!))?.payload["haemoglobin"] == "5.58 mmol/L")
        let d = try f.run(.decide(candidate: "C-1"))["decision"]!
        let marrow = d["criteria"]!.arrayValue!.first { $0["id"] == "I7-bone-marrow" }!
        // 5.58 mmol/L × 16.1145 g/mmol = 8.991891 g/dL: below 9. 1500 /µL = 1.5 × 10⁹/L: at the bound, which passes.
        #expect(marrow["result"] == "fail")
        #expect(marrow["observed"]?["clinical.haemoglobin"] == "5.58 mmol/L")
        #expect(marrow["reason"]?.stringValue?.contains("clinical.haemoglobin is 5.58 mmol/L = 8.991891 g/dL (needs ≥ 9 g/dL)") == true, "\(marrow)")
        #expect(marrow["reason"]?.stringValue?.contains("clinical.anc is 1500 /uL = 1.5 10*9/L") == false, "the failing part explains the verdict")
    }

    @Test("show lists superseded observations, and as of an earlier event the older value still stood")
    func showSuperseded() throws {
        let f = try registered()
        try f.run(.record(kind: "ki67", candidate: "C-1", fields: ["percent": 8, "specimen_date": "2026-03-02", "method": "manual_count"]))  // 4
        try f.run(.record(kind: "ki67", candidate: "C-1", fields: ["percent": 25, "specimen_date": "2025-01-10", "method": "manual_count"]))  // 5
        let shown = try f.run(.show(candidate: "C-1", asOfSeq: nil, asOfTime: nil))
        #expect(shown["facts"]?["ki67.percent"]?["value"] == 8)
        let superseded = shown["superseded"]!.arrayValue!.first { $0["fact"] == "ki67.percent" }!
        #expect(superseded["seq"] == 5 && superseded["by_seq"] == 4 && superseded["value"] == 25)
        #expect(superseded["why"]?.stringValue == "observed 2025-01-10, before event 4's 2026-03-02")
        // Correcting the newer record's date behind the older one moves it: the fold applies corrections first.
        try f.run(.correct(seq: 4, field: "specimen_date", value: "2024-12-01", reason: "date typed wrong"))
        #expect(try f.run(.show(candidate: "C-1", asOfSeq: nil, asOfTime: nil))["facts"]?["ki67.percent"]?["value"] == 25)
        #expect(try f.run(.show(candidate: "C-1", asOfSeq: 5, asOfTime: nil))["facts"]?["ki67.percent"]?["value"] == 8)
    }
}

@Suite("Clinical model 2 policies and grading")
struct ClinicalPolicyTests {
    @Test("a quantity needs its unit in a model 2 policy, and the unit must fit the fact", arguments: [
        ("when: {fact: clinical.haemoglobin, gte: 9}", "say the unit"),
        ("when: {fact: clinical.haemoglobin, gte: 9, unit: umol/L}", "umol/L is not a unit of clinical.haemoglobin"),
        ("when: {fact: clinical.ecog, lte: 1, unit: g/L}", "clinical.ecog has no unit"),
        ("when: {fact: clinical.primary_site, eq: pancreatic}", "unknown fact"),
        ("when: {fact: clinical.anc, threshold: 1.5}", "clinical.anc is a quantity with a unit; test it with a comparison"),
        ("when: {fact: clinical.haemoglobin, in: [9, 10]}", "clinical.haemoglobin is a quantity with a unit"),
        ("attestation: consent\n    when: {fact: grade, eq: G1}", "either when or attestation"),
    ])
    func model2Policies(criterion: String, words: String) throws {
        let text = "policy: p\nversion: \"1\"\nclinical_model: 2\ncriteria:\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    \(criterion)\n"
        #expect { try PolicyLoader.load(text, file: "p.yaml") } throws: { ($0 as? TrialGateError)?.message.contains(words) == true }
    }

    @Test("model 1 policies load as they always did, and cannot use model 2's attestations")
    func model1Policies() throws {
        let legacy = try fixtureText("legacy-10d079c/tour/policies/2-sanet-surufatinib-1.0.0.yaml")
        #expect(try PolicyLoader.load(legacy).clinicalModel == .entryOrder)
        let text = "policy: p\nversion: \"1\"\ncriteria:\n  - id: a\n    kind: inclusion\n    description: d\n    source: s\n    attestation: consent\n"
        #expect { try PolicyLoader.load(text) } throws: { ($0 as? TrialGateError)?.message.contains("clinical_model: 2") == true }
    }

    @Test("thoracic grading", arguments: [(1.0, false, 1), (1.0, true, 2), (1.99, false, 1), (2.0, false, 2), (10.0, false, 2), (10.5, false, 3), (11.0, true, 3)])
    func thoracic(mitoses: Double, necrosis: Bool, grade: Int) {
        #expect(NETGrade.thoracic(mitoses: mitoses, necrosis: necrosis) == grade)
    }

    @Test("thoracic grading cannot tell G1 from G2 without the necrosis finding, below 2 mitoses only")
    func thoracicNeedsNecrosis() {
        #expect(NETGrade.thoracic(mitoses: 1, necrosis: nil) == nil)
        #expect(NETGrade.thoracic(mitoses: 2, necrosis: nil) == 2)
        #expect(NETGrade.thoracic(mitoses: 11, necrosis: nil) == 3)
    }

    @Test("the organ picks the rule and the site", arguments: [("C34.1", GradingRule.thoracic, "extrapancreatic"), ("C37.9", .thoracic, "extrapancreatic"),
                                                              ("C17.2", .gastrointestinal, "extrapancreatic"), ("C80.9", .gastrointestinal, "extrapancreatic"),
                                                              ("C25.0", .gastrointestinal, "pancreatic"), ("C25.9", .gastrointestinal, "pancreatic"),
                                                              ("C33.9", .gastrointestinal, "")])
    func organs(code: String, rule: GradingRule, site: String) {
        let organ = PrimaryOrgan.named(code)
        if site.isEmpty {
            #expect(organ == nil, "\(code) is not in TrialGate's list")
        } else {
            #expect(organ?.gradingRule == rule && organ?.site == site)
        }
    }

    @Test("calendar months back, clamped to the month's end", arguments: [
        ("2026-06-30", 12, "2025-06-30"), ("2026-03-31", 1, "2026-02-28"), ("2024-03-31", 1, "2024-02-29"), ("2026-01-15", 1, "2025-12-15"),
        ("2026-12-31", 12, "2025-12-31"), ("2026-05-31", 3, "2026-02-28"),
    ])
    func monthsBefore(date: String, months: Int, expected: String) {
        #expect(CivilDate(date)!.months(before: months).description == expected)
    }

    @Test("conversions are rounded to 9 decimals so a bound written in another unit is met exactly")
    func conversions() {
        let hb = Analyte.named("haemoglobin")!
        #expect(hb.convert(90, from: "g/L", to: "g/dL") == 9)
        #expect(hb.convert(5.59, from: "mmol/L", to: "g/dL") == 9.0080055)
        let bili = Analyte.named("bilirubin")!
        #expect(bili.convert(1.2, from: "mg/dL", to: "umol/L") == 20.5248)
        #expect(Analyte.named("anc")!.convert(1500, from: "/uL", to: "10*9/L") == 1.5)
        #expect(hb.convert(9, from: "g/dL", to: "umol/L") == nil)
    }
}

@Suite("Reports read by observation time")
struct ReportObservationTests {
    @Test("the report's model score is the latest study's, not the latest entry's, with or without a snapshot")
    func modelScoreByStudyDate() throws {
        let f = try Fixture(policy: ShippedPolicies.radiomicsSubstudy)
        try f.run(.register(candidate: "C-1", fields: ["site": "S1"]))
        func score(_ v: Double, _ day: String) -> Command {
            .record(kind: "model-score", candidate: "C-1", fields: ["model": "m", "version": "1", "artifact_sha256": .string(String(repeating: "a", count: 64)),
                                                                    "score": .number(v), "predicts": "response", "study_date": .string(day)])
        }
        try f.run(score(0.82, "2026-06-15"))
        try f.run(score(0.21, "2026-01-10"))  // an older study, entered later
        try f.run(.decide(candidate: "C-1"))
        func bins(_ outcome: String = "needs_review") throws -> [JSONValue] {
            try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"))["model_score_histogram"]?["by_outcome"]?[outcome]?.arrayValue ?? []
        }
        let first = try bins()
        let whole = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"))
        #expect(first.count == 10, "\(whole["model_score_histogram"] ?? .null) \(whole["screening_log"] ?? .null)")
        guard first.count == 10 else { return }
        #expect(first[8] == 1 && first[2] == 0)
        _ = try f.run(.reportSnapshot, as: "admin")
        try f.run(.correct(seq: 5, field: "study_date", value: "2026-06-20", reason: "date typed wrong"))
        try f.run(.decide(candidate: "C-1"))
        // Now the 0.21 study is the latest: the gate fails, and the report files the candidate under that score.
        let after = try bins("ineligible")
        #expect(after.count == 10 && after[2] == 1 && after[8] == 0, "\(after)")
    }
}

@Suite("Policy impact")
struct PolicyImpactTests {
    @Test("an amendment is tried before it is published: only the candidates whose outcome changes are listed, nothing is recorded")
    func impact() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let amended = ShippedPolicies.sanetEP
            .replacingOccurrences(of: "when: {fact: clinical.ecog, lte: 1, max_age_days: 28}", with: "when: {fact: clinical.ecog, lte: 2, max_age_days: 28}")
            .replacingOccurrences(of: "version: \"2.0.0\"", with: "version: \"2.1.0\"")
        #expect(amended != ShippedPolicies.sanetEP)
        let before = try f.size()
        let r = try f.run(.policyImpact(text: amended, file: "amended.yaml"), as: "sponsor")
        #expect(try f.size() == before)
        // 16 candidates are not withdrawn; only NET-005 (ECOG 2) changes.
        #expect(r["compared"] == 16)
        let changed = r["changed"]!.arrayValue!
        #expect(changed.count == 1, "\(changed)")
        #expect(changed.first?["candidate"] == "NET-005" && changed.first?["from"] == "ineligible" && changed.first?["to"] == "eligible")
        #expect(changed.first?["criteria"] == [["id": "PUB-ecog", "from": "fail", "to": "pass", "reason": "clinical.ecog is 2 (needs ≤ 2)"]])
        #expect(r["amended"]?["version"] == "2.1.0" && r["in_force"]?["version"] == "2.0.0")
    }

    @Test("policy impact reads every site: coordinators may not run it; a bad amendment is refused naming its line")
    func access() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let coordinator = Principal(name: "alice", role: .coordinator, sites: ["SITE-01"])
        #expect(throws: TrialGateError.self) { try f.dispatcher.execute(.policyImpact(text: ShippedPolicies.sanetP, file: "p.yaml"), principal: coordinator) }
        do { _ = try f.dispatcher.execute(.policyImpact(text: ShippedPolicies.sanetP, file: "p.yaml"), principal: coordinator) } catch {
            #expect(TrialGateError(error).code.rawValue == "forbidden")
        }
        let sponsor = Principal(name: "sam", role: .sponsor, sites: [])
        #expect(try f.dispatcher.execute(.policyImpact(text: ShippedPolicies.sanetP, file: "p.yaml"), principal: sponsor)["compared"] == 0)
        #expect(f.errorCode(.policyImpact(text: "policy: p\nversion: \"1\"\ncriteria: []\n", file: "a.yaml")) == "invalid_policy")
    }
}

@Suite("Reports name the policy of every decision")
struct ReportPolicyTests {
    @Test("the screening log, its CSV and HTML, the audit CSV and FHIR name each decision's policy; the header lists the policies in force")
    func policyEverywhere() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        f.clock.advance(seconds: 3600)
        let amended = ShippedPolicies.sanetEP.replacingOccurrences(of: "version: \"2.0.0\"", with: "version: \"2.0.1\"")
        _ = try f.run(.policyPublish(text: amended, file: "amended.yaml"), as: "admin")
        try f.run(.decide(candidate: "NET-001"))
        // A correction of a pathology record: the report still folds (it once could not); a signed attestation is
        // corrected only by signing a new one.
        let events = try f.store.events(candidate: "NET-002")
        let pathology = events.first { $0.type == .pathologyRecorded }!.seq
        let attestation = events.first { $0.type == .attestationRecorded }!.seq
        try f.run(.correct(seq: pathology, field: "necrosis", value: "present", reason: "review of the slides"))
        #expect(f.errorCode(.correct(seq: attestation, field: "statement", value: "ICF version 3 signed", reason: "detail added")) == "not_correctable")
        let r = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"))
        let policies = r["policies"]!.arrayValue!
        #expect(policies.count == 2 && policies[0]["version"] == "2.0.0" && policies[1]["version"] == "2.0.1")
        #expect(policies[0]["in_force_until"] == policies[1]["in_force_from"] && policies[1]["in_force_until"] == .null)
        let log = r["screening_log"]!.arrayValue!
        #expect(log.first { $0["candidate"] == "NET-001" }?["policy"] == "sanet-ep@2.0.1")
        #expect(log.first { $0["candidate"] == "NET-003" }?["policy"] == "sanet-ep@2.0.0")
        #expect(r["corrections"]?["count"] == 3)
        let csv = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "csv"))["csv"]!.stringValue!
        #expect(csv.hasPrefix("candidate,site,registered_at,consent_date,status,decision_seq,decided_at,policy,"))
        #expect(csv.contains(",sanet-ep@2.0.1,"))
        let html = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "html"))["html"]!.stringValue!
        #expect(html.contains("sanet-ep 2.0.1</strong>, in force from") && html.contains("<span class=\"id\">sanet-ep@2.0.0</span>"))
        let audit = try f.run(.auditTrail(candidate: "NET-001"))["csv"]!.stringValue!
        #expect(audit.contains("decision.issued,policy,,sanet-ep@2.0.1,"))
        let fhir = try f.run(.exportFHIR(site: nil))["resources"]!.arrayValue!
        #expect(fhir.first { $0["id"] == "NET-001" }?["extension"]?.arrayValue?.first == ["url": "urn:trialgate:fhir:screening-policy", "valueString": "sanet-ep@2.0.1"])
        #expect(fhir.first { $0["id"] == "NET-013" }?["extension"] == nil, "no decision, no extension: FHIR arrays are never empty")
        // A snapshot keeps the policy of each latest decision, and the header is read from the log.
        _ = try f.run(.reportSnapshot, as: "admin")
        let again = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"))
        #expect(again["screening_log"] == r["screening_log"] && again["policies"] == r["policies"])
    }
}
