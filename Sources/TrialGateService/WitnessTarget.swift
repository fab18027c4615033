import Foundation
import TrialGateAudit
import TrialGateCore

/// A witness a log submits its checkpoints to: where its `add-checkpoint` endpoint is and the key its cosignatures
/// must verify with. Written `URL=VKEY` on the command line and in `TRIALGATE_WITNESSES`. (The HTTP client is
/// `WitnessClient`, in TrialGateWitness.)
public struct WitnessTarget: Sendable, Equatable {
    /// The `add-checkpoint` endpoint (the prefix given, with `/add-checkpoint` appended).
    public let url: URL
    public let key: CosignerKey

    public init(url: URL, key: CosignerKey) { (self.url, self.key) = (url, key) }

    /// `URL=VKEY`: the witness's URL prefix (http or https) and its cosigner vkey.
    public init(_ text: String) throws {
        guard let eq = text.firstIndex(of: "="), let url = URL(string: String(text[..<eq]).trimmingSuffix("/") + "/add-checkpoint"),
              url.scheme == "http" || url.scheme == "https", url.host?.isEmpty == false else {
            throw TrialGateError(.badRequest, "a witness is URL=VKEY (http://host:port=name+id+key), got \(text.prefix(80))")
        }
        self.init(url: url, key: try CosignerKey(vkey: String(text[text.index(after: eq)...])))
    }

    /// The witnesses named in `TRIALGATE_WITNESSES`-style text: `URL=VKEY` entries separated by spaces or newlines.
    public static func list(_ text: String) throws -> [WitnessTarget] {
        let targets = try text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map { try WitnessTarget(String($0)) }
        // Each witness once, by name and by key, as every witness list is (`CosignerKey.distinct`).
        _ = try CosignerKey.distinct(targets.map(\.key))
        return targets
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
