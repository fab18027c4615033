import ArgumentParser
import Foundation
import TrialGateCore
import TrialGateService

struct ModelGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Register radiomics models, read their cards, and compute a candidate's score.",
        discussion: "docs/model-evidence.md describes the card, the artifact format (trialgate.model/1) and the radiomics record.",
        subcommands: [Register.self, List.self, Show.self, Score.self])

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a model version in the log: its card, its artifact and its extraction settings.")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "The model card (JSON), without the artifact and settings texts.") var card: String
        @Option(name: .long, help: "The model artifact (trialgate.model/1 JSON); the card's artifact_sha256 must be its SHA-256.") var artifact: String
        @Option(name: .long, help: "The extraction parameter file; the card's extraction.settings_sha256 must be its SHA-256.") var settings: String

        func run() throws {
            let text = try Runner.readFile(card)
            let parsed: JSONValue
            do { parsed = try JSONParser.parse(text) } catch {
                throw Runner.fail(TrialGateError(.invalidField, "\(card): the model card is not JSON: \(TrialGateError(error).message)"))
            }
            let receipt = try Runner.write(.modelRegister(card: parsed, artifact: try Runner.readFile(artifact), settings: try Runner.readFile(settings)), options: options)
            if options.json { return Runner.printJSON(receipt.json) }
            print("Registered model \(parsed["model_id"]?.stringValue ?? "")@\(parsed["version"]?.stringValue ?? "") as event \(receipt.seq) (artifact sha256 \(parsed["artifact_sha256"]?.stringValue ?? "")).")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered model versions.")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let result = try Runner.view(.models, as: ModelsReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            if result.models.isEmpty { return print("No model is registered.") }
            for m in result.models {
                print("\(Render.pad("\(m.modelID)@\(m.version)", 28)) event \(Render.pad(String(m.seq), 6)) \(Render.pad(m.contrastPhase, 14)) threshold \(CanonicalJSON.formatNumber(m.threshold))  \(m.predicts)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a registered model version's card; or its artifact or settings, as registered.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The model, as ID@VERSION.") var model: String
        @Flag(name: .long, help: "Print the artifact's text exactly as registered.") var artifact = false
        @Flag(name: .long, help: "Print the extraction settings' text exactly as registered.") var settings = false

        func run() throws {
            let (id, version) = try ModelGroup.split(model)
            let result = try Runner.view(.modelShow(id: id, version: version), as: ModelCardReply.self, options: options)
            if artifact { return print(result.card["artifact"]?.stringValue ?? "", terminator: "") }
            if settings { return print(result.card["extraction"]?["settings"]?.stringValue ?? "", terminator: "") }
            if options.json { return Runner.printJSON(result) }
            let c = result.card
            print("\(id)@\(version), event \(result.seq), registered \(result.registeredAt) by \(result.registeredBy)")
            print("  \(c["title"]?.stringValue ?? "")")
            print("  predicts: \(c["predicts"]?.stringValue ?? "")")
            print("  artifact: sha256 \(c["artifact_sha256"]?.stringValue ?? "")")
            let x = c["extraction"]
            print("  extraction: \(x?["software"]?.stringValue ?? ""), \(x?["contrast_phase"]?.stringValue ?? "") phase, settings sha256 \(x?["settings_sha256"]?.stringValue ?? "")")
            let o = c["operating_point"]
            print("  operating point: threshold \(o?["threshold"].map(CanonicalJSON.string) ?? ""), grey zone \(o?["grey_zone"].map(CanonicalJSON.string) ?? "") (\(o?["source"]?.stringValue ?? ""))")
            let v = c["validation"]
            print("  validation: AUC \(v?["auc"].map(CanonicalJSON.string) ?? "") \(v?["auc_ci95"].map(CanonicalJSON.string) ?? "") on \(v?["dataset"]?.stringValue ?? "")")
        }
    }

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Compute a candidate's score from their recorded features with a registered model.")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "The candidate id.") var candidate: String
        @Option(name: .long, help: "The model, as ID@VERSION or ID (its registered versions, newest first).") var model: String

        func run() throws {
            let (id, version) = model.contains("@") ? try ModelGroup.split(model) : (model, nil)
            let r = try Runner.view(.modelScore(candidate: candidate, model: id, version: version), as: ModelScoreReply.self, options: options)
            if options.json { return Runner.printJSON(r) }
            if let lp = r.linearPredictor, let p = r.probability {
                print("\(candidate): \(id)@\(r.version ?? "") on event \(r.featuresEvent ?? 0) (\(r.contrastPhase ?? "") CT of \(r.studyDate ?? ""), QC \(r.qcStatus ?? "")): linear predictor \(CanonicalJSON.formatNumber(lp)), probability \(CanonicalJSON.formatNumber(p))")
            }
            print("\(r.verdict): \(r.reason)")
        }
    }

    /// `ID@VERSION` as its two parts.
    static func split(_ name: String) throws -> (String, String) {
        let parts = name.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw Runner.fail(TrialGateError(.invalidField, "model must be ID@VERSION (net-radiomics-lr@1.0.0), got \"\(name)\""))
        }
        return (String(parts[0]), String(parts[1]))
    }
}
