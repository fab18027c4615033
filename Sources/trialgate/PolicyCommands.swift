import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

struct PolicyGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Publish, check and test enrollment policies.",
                                                    subcommands: [Publish.self, Check.self, TestCases.self, Impact.self])

    struct Publish: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a policy in the log; it is in force from then on.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The policy file (YAML).") var file: String

        func run() throws {
            let receipt = try Runner.write(.policyPublish(text: try Runner.readFile(file), file: file), options: options)
            if options.json { return Runner.printJSON(receipt.json) }
            let p = receipt.policy
            print("Published \(p?.id ?? "") version \(p?.version ?? "") as event \(receipt.seq) (sha256 \(p?.sha256 ?? "")).")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a policy file without recording it.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The policy file (YAML).") var file: String

        func run() throws {
            let result = try Runner.view(.policyCheck(text: try Runner.readFile(file), file: file), as: PolicyCheckReply.self, options: options,
                                         needsStore: false)
            if options.json { return Runner.printJSON(result) }
            print("\(file): policy \(result.policy) version \(result.version) is valid (sha256 \(result.sha256)).")
            for c in result.criteria { print("  \(c.kind)  \(c.id)\(c.enabled ? "" : " (disabled)"): \(c.description)") }
        }
    }

    struct Impact: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Try an amended policy before publishing it: every candidate whose outcome would change, and how.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The amended policy file (YAML).") var file: String

        func run() throws {
            let result = try Runner.view(.policyImpact(text: try Runner.readFile(file), file: file), as: PolicyImpactReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            let a = result.amended, f = result.inForce
            print("\(a.id) \(a.version) against \(f.id) \(f.version) (in force since event \(f.seq)), on \(result.date):")
            for c in result.changed {
                print("  \(Render.pad(c.candidate, 10)) \(Render.pad(c.site, 8)) \(c.from) → \(c.to)")
                for k in c.criteria { print("      \(k.id): \(k.from ?? "absent") → \(k.to ?? "absent") (\(k.reason))") }
            }
            print("\(result.changed.count) of \(result.compared) candidates would change outcome; nothing was recorded.")
        }
    }

    struct TestCases: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "test", abstract: "Run a table of example candidates against a policy.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The policy file (YAML).") var file: String
        @Argument(help: "The case table (YAML).") var cases: String
        @Option(name: .long, help: "A model card the policy's model gates read (with --model-artifact and --model-settings; repeat in the same order for several).") var modelCard: [String] = []
        @Option(name: .long, help: "The artifact of the model card given at the same position.") var modelArtifact: [String] = []
        @Option(name: .long, help: "The extraction settings of the model card given at the same position.") var modelSettings: [String] = []

        func run() throws {
            guard modelCard.count == modelArtifact.count, modelCard.count == modelSettings.count else {
                throw Runner.fail(TrialGateError(.badRequest, "give each model as --model-card, --model-artifact and --model-settings together (got \(modelCard.count), \(modelArtifact.count) and \(modelSettings.count))"))
            }
            let models = try modelCard.indices.map { i in
                let card: JSONValue
                do { card = try JSONParser.parse(try Runner.readFile(modelCard[i])) } catch let e as ExitCode { throw e } catch {
                    throw Runner.fail(TrialGateError(.invalidField, "\(modelCard[i]): the model card is not JSON: \(TrialGateError(error).message)"))
                }
                return ModelSubmission(card: card, artifact: try Runner.readFile(modelArtifact[i]), settings: try Runner.readFile(modelSettings[i]))
            }
            let result = try Runner.view(.policyTest(policyText: try Runner.readFile(file), policyFile: file,
                                                     casesText: try Runner.readFile(cases), casesFile: cases, models: models),
                                         as: PolicyTestReply.self, options: options, needsStore: false)
            if options.json { Runner.printJSON(result) } else {
                for c in result.cases {
                    print("\(c.ok ? "ok  " : "FAIL") \(c.name) → \(c.got ?? "rejected")")
                    for f in c.failures { print("       \(f)") }
                }
                print("\(result.passed) passed, \(result.failed) failed")
            }
            if result.failed > 0 { throw ExitCode(1) }
        }
    }
}
