import Foundation

/// The illustrative model shipped in `Models/` (trained on synthetic data), bundled so that `trialgate demo` runs anywhere.
public enum ShippedModels {
    /// The card of net-radiomics-lr 1.0.0, without its artifact and settings texts.
    public static var card: String { text("net-radiomics-lr-1.0.0.card", "json") }
    /// Its artifact, `trialgate.model/1`.
    public static var artifact: String { text("net-radiomics-lr-1.0.0.model", "json") }
    /// The pyradiomics parameter file its features are extracted with.
    public static var settings: String { text("pyradiomics-ct", "yaml") }
    /// The radiomics records of three synthetic phantom lesions (`tools/radiomics`), as `{"lesions": [{"fields": …}]}`.
    public static var demoFeatures: String { text("demo-features", "json") }

    private static func text(_ name: String, _ ext: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("the shipped model file \(name).\(ext) is missing from the build") }
        return text
    }
}
