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
            let p = receipt.extra["policy"]
            print("Published \(p?["id"]?.stringValue ?? "") version \(p?["version"]?.stringValue ?? "") as event \(receipt.seq) (sha256 \(p?["sha256"]?.stringValue ?? "")).")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a policy file without recording it.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The policy file (YAML).") var file: String

        func run() throws {
            let result = try Runner.run(.policyCheck(text: try Runner.readFile(file), file: file), options: options, needsStore: false)
            if options.json { return Runner.printJSON(result) }
            print("\(file): policy \(result["policy"]?.stringValue ?? "") version \(result["version"]?.stringValue ?? "") is valid (sha256 \(result["sha256"]?.stringValue ?? "")).")
            for c in result["criteria"]?.arrayValue ?? [] {
                let off = c["enabled"]?.boolValue == false ? " (disabled)" : ""
                print("  \(c["kind"]?.stringValue ?? "")  \(c["id"]?.stringValue ?? "")\(off): \(c["description"]?.stringValue ?? "")")
            }
        }
    }

    struct Impact: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Try an amended policy before publishing it: every candidate whose outcome would change, and how.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The amended policy file (YAML).") var file: String

        func run() throws {
            let result = try Runner.run(.policyImpact(text: try Runner.readFile(file), file: file), options: options)
            if options.json { return Runner.printJSON(result) }
            let a = result["amended"], f = result["in_force"]
            print("\(a?["id"]?.stringValue ?? "") \(a?["version"]?.stringValue ?? "") against \(f?["id"]?.stringValue ?? "") \(f?["version"]?.stringValue ?? "") (in force since event \(f?["seq"]?.intValue ?? 0)), on \(result["date"]?.stringValue ?? ""):")
            let changed = result["changed"]?.arrayValue ?? []
            for c in changed {
                print("  \(Render.pad(c["candidate"]?.stringValue ?? "", 10)) \(Render.pad(c["site"]?.stringValue ?? "", 8)) \(c["from"]?.stringValue ?? "") → \(c["to"]?.stringValue ?? "")")
                for k in c["criteria"]?.arrayValue ?? [] {
                    print("      \(k["id"]?.stringValue ?? ""): \(k["from"]?.stringValue ?? "absent") → \(k["to"]?.stringValue ?? "absent") (\(k["reason"]?.stringValue ?? ""))")
                }
            }
            print("\(changed.count) of \(result["compared"]?.intValue ?? 0) candidates would change outcome; nothing was recorded.")
        }
    }

    struct TestCases: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "test", abstract: "Run a table of example candidates against a policy.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The policy file (YAML).") var file: String
        @Argument(help: "The case table (YAML).") var cases: String

        func run() throws {
            let result = try Runner.run(.policyTest(policyText: try Runner.readFile(file), policyFile: file,
                                                    casesText: try Runner.readFile(cases), casesFile: cases),
                                        options: options, needsStore: false)
            let failed = result["failed"]?.intValue ?? 0
            if options.json { Runner.printJSON(result) } else {
                for c in result["cases"]?.arrayValue ?? [] {
                    let ok = c["ok"]?.boolValue == true
                    print("\(ok ? "ok  " : "FAIL") \(c["name"]?.stringValue ?? "") → \(c["got"]?.stringValue ?? "rejected")")
                    for f in c["failures"]?.arrayValue ?? [] { print("       \(f.stringValue ?? "")") }
                }
                print("\(result["passed"]?.intValue ?? 0) passed, \(failed) failed")
            }
            if failed > 0 { throw ExitCode(1) }
        }
    }
}
