import TrialGateCore

/// The records of the demo's candidates, every date relative to `today`: typical records, which each candidate of
/// `DemoScenario` varies, and the candidates of each trial.
struct DemoRecords {
    typealias Candidate = DemoScenario.Candidate
    typealias Step = DemoScenario.Step

    let today: CivilDate
    let trial: DemoScenario.Trial
    /// The criteria the investigator attests for a typical candidate.
    let attested = ["I1-informed-consent", "I3-advanced", "I9-liver-function", "E3-registered-exclusions"]

    init(today: CivilDate, trial: DemoScenario.Trial) {
        self.today = today
        self.trial = trial
    }

    func day(_ offset: Int) -> JSONValue { .string(CivilDate(daysSinceEpoch: today.daysSinceEpoch - offset).description) }

    /// The radiomics model whose score the candidates have recorded.
    var model: [String: JSONValue] {
        [
            "model": "net-ct-radiomics", "version": "2.1.0",
            "artifact_sha256": "3f1c2b9d8e7a6f5041c3b2a1908f7e6d5c4b3a291807f6e5d4c3b2a190817263",
            "predicts": "objective response or disease control at 6 months", "study_date": day(12),
        ]
    }

    func clinical(ecog: Int = 1, prior: [String] = ["somatostatin_analogue"], platelets: String = "210 10*9/L",
                  haemoglobin: String = "126 g/L", bilirubin: [String: JSONValue] = ["bilirubin": "0.7 {ULN}"],
                  assessedAgo: Int = 7) -> [String: JSONValue] {
        var c: [String: JSONValue] = [
            "assessed_on": day(assessedAgo), "age": 61, "ecog": .number(Double(ecog)),
            "prior_systemic_therapies": .array(prior.map { .string($0) }), "anc": "3.2 10*9/L", "platelets": .string(platelets),
            "haemoglobin": .string(haemoglobin), "systolic_bp": "128 mm[Hg]", "diastolic_bp": "80 mm[Hg]",
        ]
        c.merge(bilirubin) { _, b in b }
        return c
    }

    func imaging(progressionAgo: Int = 60) -> [String: JSONValue] {
        [
            "study_date": day(12), "modality": "CT", "contrast_phases": ["arterial", "portal_venous"], "recist_measurable": true,
            "target_lesion_sum_mm": 68, "progression_date": day(progressionAgo),
        ]
    }

    var defaultOrgan: String { trial == .ep ? "C17.2" : "C25.1" }

    func pathology(organ: String? = nil, type: String = "NET", differentiation: String = "well", necrosis: String? = nil) -> [String: JSONValue] {
        var p: [String: JSONValue] = ["specimen_date": day(90), "primary_organ": .string(organ ?? defaultOrgan), "tumour_type": .string(type),
                                      "differentiation": .string(differentiation), "review": "central"]
        if let necrosis { p["necrosis"] = .string(necrosis) }
        return p
    }

    /// A candidate's steps: registration, the typical records with what `id` changes, the attestations, the decision
    /// and its confirmation, unless told otherwise.
    func build(_ id: String, site: String, story: String, expected: Outcome?, ki67: Double? = 8, mitoses: Int? = nil,
               pathology p: [String: JSONValue]? = nil, clinical c: [String: JSONValue]? = nil,
               imaging i: [String: JSONValue]? = nil, score: Double? = 0.81, attest: [String]? = nil,
               extra: [Step] = [], confirm: Bool = true, after: [Step] = []) -> Candidate {
        // Unless given: the typical pathology, clinical and imaging records, and the usual attestations.
        let (p, c, i, attest) = (p ?? pathology(), c ?? clinical(), i ?? imaging(), attest ?? attested)
        var commands: [Command] = [.register(candidate: id, fields: ["site": .string(site), "consent_date": day(20)])]
        commands.append(.record(kind: "pathology", candidate: id, fields: .object(p)))
        commands.append(.record(kind: "clinical", candidate: id, fields: .object(c)))
        commands.append(.record(kind: "imaging", candidate: id, fields: .object(i)))
        if let ki67 {
            commands.append(.record(kind: "ki67", candidate: id, fields: ["percent": .number(ki67), "specimen_date": day(90), "method": "manual_count"]))
        }
        if let mitoses {
            commands.append(.record(kind: "mitotic-count", candidate: id, fields: ["count": .number(Double(mitoses)), "unit": "per_2mm2", "specimen_date": day(90)]))
        }
        commands.append(.record(kind: "sstr", candidate: id, fields: ["status": "positive", "modality": "ga68_dotatate_pet", "krenning_score": 3, "study_date": day(30)]))
        if let score {
            var m = model
            m["score"] = .number(score)
            commands.append(.record(kind: "model-score", candidate: id, fields: .object(m)))
        }
        // The investigator attests what no record decides, then the decision is issued and, when it is not one
        // that needs review, confirmed by the investigator.
        var steps = commands.map(Step.command) + attest.map { Step.attest(criterion: $0, attestedOn: day(7)) } + extra
        if let expected {
            steps.append(.command(.decide(candidate: id)))
            if confirm, expected != .needsReview { steps.append(.confirm) }
        }
        steps += after
        return Candidate(id: id, story: story, steps: steps, expected: expected)
    }
}

extension DemoRecords {
    /// The candidates of SANET-p (pancreatic).
    var pancreaticCandidates: [Candidate] {
        [
            build("PNET-001", site: "SITE-01", story: "pancreatic body G2, haemoglobin 7.9 mmol/L (12.7 g/dL)", expected: .eligible,
                  clinical: clinical(haemoglobin: "7.9 mmol/L")),
            build("PNET-002", site: "SITE-01", story: "ileal primary: belongs to SANET-ep", expected: .ineligible, pathology: pathology(organ: "C17.2")),
            build("PNET-003", site: "SITE-02", story: "bilirubin 31.5 µmol/L, ULN 21: 1.5 × ULN, not below it", expected: .ineligible,
                  clinical: clinical(bilirubin: ["bilirubin": "31.5 umol/L", "bilirubin_upper_limit": "21 umol/L"])),
            build("PNET-004", site: "SITE-02", story: "haemoglobin 89 g/L: 8.9 g/dL, below 9", expected: .ineligible,
                  clinical: clinical(haemoglobin: "89 g/L")),
            build("PNET-005", site: "SITE-03", story: "treatment-naive, not yet attested unable or unwilling", expected: .needsReview,
                  clinical: clinical(prior: [])),
        ]
    }

    /// The candidates of SANET-ep (extrapancreatic).
    var extrapancreaticCandidates: [Candidate] {
        let lung = pathology(organ: "C34.1", necrosis: "absent")
        return [
            build("NET-001", site: "SITE-01", story: "ileal G2, recent progression", expected: .eligible),
            build("NET-002", site: "SITE-01", story: "lung NET, 1 mitosis, no necrosis: G1 by the thoracic rule; treatment-naive, attested unable", expected: .eligible,
                  ki67: 2, mitoses: 1, pathology: lung, clinical: clinical(ecog: 0, prior: []), attest: attested + ["I4-unable-or-unwilling"]),
            build("NET-003", site: "SITE-02", story: "Ki-67 35 %: G3", expected: .ineligible, ki67: 35),
            build("NET-004", site: "SITE-02", story: "Ki-67 10 % but 25 mitoses/2 mm²: G3", expected: .ineligible, ki67: 10, mitoses: 25),
            build("NET-005", site: "SITE-03", story: "ECOG 2", expected: .ineligible, clinical: clinical(ecog: 2)),
            build("NET-006", site: "SITE-03", story: "three prior therapy types", expected: .ineligible,
                  clinical: clinical(prior: ["somatostatin_analogue", "chemotherapy", "prrt"])),
            build("NET-007", site: "SITE-01", story: "progression 15 months ago", expected: .ineligible, imaging: imaging(progressionAgo: 450)),
            build("NET-008", site: "SITE-02", story: "platelets 64", expected: .ineligible, clinical: clinical(platelets: "64 10*9/L")),
            build("NET-009", site: "SITE-03", story: "no Ki-67 yet", expected: .needsReview, ki67: nil),
            build("NET-010", site: "SITE-01", story: "informed consent not attested yet (model score 0.52 recorded)", expected: .needsReview, score: 0.52,
                  attest: attested.filter { $0 != "I1-informed-consent" }),
            build("NET-011", site: "SITE-02", story: "labs 45 days old", expected: .needsReview, clinical: clinical(assessedAgo: 45)),
            build("NET-012", site: "SITE-03", story: "Ki-67 typed as 28, corrected to 18 with a reason", expected: .eligible, ki67: 28,
                  extra: [.correctLatest(kind: "ki67", field: "percent", value: 18, reason: "transcription error: pathology report says 18 %")]),
            build("NET-013", site: "SITE-01", story: "withdrew consent before a decision", expected: nil,
                  extra: [.command(.withdraw(candidate: "NET-013", category: .withdrewConsent, reason: "participant withdrew consent for screening"))]),
            build("NET-014", site: "SITE-02", story: "poorly differentiated NEC, Ki-67 18 %: excluded though G2 by the count", expected: .ineligible,
                  ki67: 18, pathology: pathology(type: "NEC", differentiation: "poorly")),
            build("NET-015", site: "SITE-03", story: "lung NET, 15 mitoses: G2 by the GI rule, above G2 by the thoracic rule", expected: .ineligible,
                  ki67: 5, mitoses: 15, pathology: lung),
            build("NET-016", site: "SITE-01", story: "an old specimen's Ki-67 of 25 % entered later is superseded by the current 8 %", expected: .eligible,
                  extra: [.command(.record(kind: "ki67", candidate: "NET-016", fields: ["percent": 25, "specimen_date": day(400), "method": "manual_count"]))]),
            build("NET-017", site: "SITE-02", story: "decided eligible, then ECOG corrected 1 → 3: stale until decided again", expected: .eligible,
                  confirm: false, after: [.correctLatest(kind: "clinical", field: "ecog", value: 3, reason: "ECOG re-assessed at the screening visit")]),
        ]
    }
}
