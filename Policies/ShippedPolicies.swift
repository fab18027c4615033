import Foundation

/// The policies shipped in `Policies/`, bundled so that `trialgate demo` runs anywhere.
public enum ShippedPolicies {
    /// The SANET-ep / SANET-p surufatinib screening policy (`sanet-surufatinib.yaml`).
    public static var sanetSurufatinib: String { text("sanet-surufatinib", "yaml") }
    /// Its case table (`sanet-surufatinib.cases.yaml`).
    public static var sanetSurufatinibCases: String { text("sanet-surufatinib.cases", "yaml") }

    private static func text(_ name: String, _ ext: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("the shipped policy \(name).\(ext) is missing from the build") }
        return text
    }
}
