import TrialGateCore

extension DemoScenario {
    /// The radiomics sub-study's candidates: SSTR status, the main-trial attestation and the CT features of one
    /// synthetic phantom lesion each (`lesions`: radiomics records from `tools/radiomics`), scored by TrialGate with
    /// the registered model. The images are dated 10 days before `today` so the gate's age limit holds.
    /// - Parameter expected: the outcome each lesion's candidate should get, in order.
    public static func substudy(today: CivilDate, lesions: [JSONValue], expected: [Outcome]) -> DemoScenario {
        func day(_ offset: Int) -> JSONValue { .string(CivilDate(daysSinceEpoch: today.daysSinceEpoch - offset).description) }
        let stories = ["features above the model's threshold", "features in the model's grey zone", "features below the model's threshold"]
        let candidates = zip(lesions, expected).enumerated().map { i, pair in
            let id = "RAD-\(String(format3: i + 1))"
            var fields = pair.0
            if case .object(var m) = fields {
                m["study_date"] = day(10)
                if m["qc_date"] != nil { m["qc_date"] = day(9) }
                fields = .object(m)
            }
            let steps: [Step] = [
                .command(.register(candidate: id, fields: ["site": "SITE-01", "consent_date": day(12)])),
                .command(.record(kind: "sstr", candidate: id, fields: ["status": "positive", "modality": "ga68_dotatate_pet", "krenning_score": 3, "study_date": day(20)])),
                .command(.record(kind: "radiomics", candidate: id, fields: fields)),
                .attest(criterion: "M1-main-trial-eligible", attestedOn: day(2)),
                .command(.decide(candidate: id)),
            ]
            return Candidate(id: id, story: i < stories.count ? stories[i] : "phantom lesion \(i + 1)", steps: steps, expected: pair.1)
        }
        return DemoScenario(candidates: candidates)
    }
}

private extension String {
    /// `n` with at least three digits.
    init(format3 n: Int) { self = n < 10 ? "00\(n)" : (n < 100 ? "0\(n)" : "\(n)") }
}
