import Foundation

/// The policies shipped in `Policies/`, bundled so that `trialgate demo` runs anywhere.
public enum ShippedPolicies {
    /// SANET-ep (NCT02588170), extrapancreatic NET (`sanet-ep.yaml`).
    public static var sanetEP: String { text("sanet-ep", "yaml") }
    /// Its boundary case table (`sanet-ep.cases.yaml`).
    public static var sanetEPCases: String { text("sanet-ep.cases", "yaml") }
    /// SANET-p (NCT02589821), pancreatic NET (`sanet-p.yaml`).
    public static var sanetP: String { text("sanet-p", "yaml") }
    /// Its boundary case table (`sanet-p.cases.yaml`).
    public static var sanetPCases: String { text("sanet-p.cases", "yaml") }
    /// The opt-in radiomics sub-study (`radiomics-substudy.yaml`).
    public static var radiomicsSubstudy: String { text("radiomics-substudy", "yaml") }
    /// The sub-study's version 2, whose model gate TrialGate computes from recorded features (`radiomics-substudy-2.yaml`).
    public static var radiomicsSubstudyModelGate: String { text("radiomics-substudy-2", "yaml") }
    /// Its case table, run with the illustrative model of `Models/` (`radiomics-substudy-2.cases.yaml`).
    public static var radiomicsSubstudyModelGateCases: String { text("radiomics-substudy-2.cases", "yaml") }
    /// Its case table (`radiomics-substudy.cases.yaml`).
    public static var radiomicsSubstudyCases: String { text("radiomics-substudy.cases", "yaml") }

    /// Every shipped policy with its case table, by file name. `radiomics-substudy-2.yaml`'s cases read the model of
    /// `Models/` (the `TrialGateModels` target), which the caller gives them.
    public static var all: [(file: String, policy: String, cases: String)] {
        [("sanet-ep.yaml", sanetEP, sanetEPCases), ("sanet-p.yaml", sanetP, sanetPCases),
         ("radiomics-substudy.yaml", radiomicsSubstudy, radiomicsSubstudyCases),
         ("radiomics-substudy-2.yaml", radiomicsSubstudyModelGate, radiomicsSubstudyModelGateCases)]
    }

    private static func text(_ name: String, _ ext: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("the shipped policy \(name).\(ext) is missing from the build") }
        return text
    }
}
