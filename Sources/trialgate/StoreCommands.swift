import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a store and the trial's Ed25519 signing key.")

    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "The trial's identifier (letters, digits, '.', '_', '-').") var trial: String
    @Option(name: .long, help: "The log's origin name (default: trialgate/<trial>).") var origin: String?

    func run() throws {
        let keyPath = options.keyPath
        let storePath = options.storePath
        if FileManager.default.fileExists(atPath: keyPath) {
            throw Runner.fail(TrialGateError(.keyExists, "\(keyPath) already exists; choose another --key or move it away"))
        }
        var created: [String] = []
        do {
            let key = TrialKey.generate()
            let store = try EventStore.create(path: storePath)
            created = [storePath, storePath + "-wal", storePath + "-shm"]
            defer { store.close() }
            try key.write(to: keyPath)
            created.append(keyPath)
            let dispatcher = Dispatcher(store: store, clock: SystemClock(), key: { key })
            let result = try dispatcher.execute(.initialise(trialID: trial, logOrigin: origin ?? "trialgate/\(trial)"), actor: options.actorName)
            if options.json { Runner.printJSON(result); return }
            print("Created store \(storePath) for trial \(trial).")
            print("Signing key \(keyPath) (mode 0600), key id \(result["key_id"]?.stringValue ?? "").")
            print("Public key:\n" + (result["public_key_pem"]?.stringValue ?? ""), terminator: "")
        } catch {
            // Nothing half-made stays behind.
            for path in created { unlink(path) }
            if let exit = error as? ExitCode { throw exit }
            throw Runner.fail(TrialGateError(error))
        }
    }
}

struct PolicyGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Publish, check and test enrollment policies.",
                                                    subcommands: [Publish.self, Check.self, TestCases.self, Impact.self])

    struct Publish: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a policy in the log; it is in force from then on.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The policy file (YAML).") var file: String

        func run() throws {
            let result = try Runner.run(.policyPublish(text: try Runner.readFile(file), file: file), options: options)
            if options.json { return Runner.printJSON(result) }
            let p = result["policy"]
            print("Published \(p?["id"]?.stringValue ?? "") version \(p?["version"]?.stringValue ?? "") as event \(result["seq"]?.intValue ?? 0) (sha256 \(p?["sha256"]?.stringValue ?? "")).")
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

struct CandidateGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "candidate", abstract: "Register candidates.", subcommands: [Register.self])

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a candidate under a pseudonymous id.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The pseudonymous candidate id (never a name).") var candidate: String
        @Option(name: .long, help: "The screening site code.") var site: String
        @Option(name: .long, help: "Date screening consent was signed (YYYY-MM-DD).") var consentDate: String?

        func run() throws {
            var fields: [String: JSONValue] = ["site": .string(site)]
            if let consentDate { fields["consent_date"] = .string(consentDate) }
            let result = try Runner.run(.register(candidate: candidate, fields: .object(fields)), options: options)
            if options.json { return Runner.printJSON(result) }
            print("Registered \(candidate) at \(site) as event \(result["seq"]?.intValue ?? 0).")
        }
    }
}

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a clinical fact: imaging, ki67, mitotic-count, sstr, model-score, clinical, pathology or attestation.",
        discussion: "Fields are name=value pairs; values are read as JSON when they parse (12.5, true, [\"a\"]) and as text otherwise. Lab values take their UCUM unit: haemoglobin=\"12.4 g/dL\" (docs/events.md).\nExample: trialgate record ki67 --candidate NET-001 percent=8 specimen_date=2026-03-02 method=manual_count")

    @OptionGroup var options: StoreOptions
    @Argument(help: "What is recorded.") var kind: String
    @Option(name: .long, help: "The candidate id.") var candidate: String
    @Argument(help: "name=value pairs.") var fields: [String] = []

    func run() throws {
        var object: [String: JSONValue] = [:]
        for pair in fields {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw Runner.fail(TrialGateError(.badRequest, "field \"\(pair)\" must be name=value"))
            }
            let name = String(pair[..<eq])
            let raw = String(pair[pair.index(after: eq)...])
            object[name] = Self.value(raw)
        }
        let result = try Runner.run(.record(kind: kind, candidate: candidate, fields: .object(object)), options: options)
        if options.json { return Runner.printJSON(result) }
        print("Recorded \(kind) for \(candidate) as event \(result["seq"]?.intValue ?? 0).")
    }

    /// A command-line value as JSON: numbers, booleans, lists and objects parse; anything else is text.
    static func value(_ raw: String) -> JSONValue {
        if let v = try? JSONParser.parse(raw) { return v }
        return .string(raw)
    }
}

struct Correct: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Correct one field of an earlier record; the old value stays in the log.")
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "The sequence number of the record to correct.") var seq: Int64
    @Option(name: .long, help: "The field to correct.") var field: String
    @Option(name: .long, help: "The new value (JSON or text).") var value: String
    @Option(name: .long, help: "Why the value changes (required).") var reason: String

    func run() throws {
        let result = try Runner.run(.correct(seq: seq, field: field, value: Record.value(value), reason: reason), options: options)
        if options.json { return Runner.printJSON(result) }
        print("Corrected \(field) of event \(seq) as event \(result["seq"]?.intValue ?? 0).")
    }
}

struct Withdraw: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Record that a candidate left screening.")
    @OptionGroup var options: StoreOptions
    @Argument(help: "The candidate id.") var candidate: String
    @Option(name: .long, help: "Why (required).") var reason: String

    func run() throws {
        let result = try Runner.run(.withdraw(candidate: candidate, reason: reason), options: options)
        if options.json { return Runner.printJSON(result) }
        print("Withdrew \(candidate) as event \(result["seq"]?.intValue ?? 0).")
    }
}

struct Decide: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate the policy in force, sign the decision and append it.")
    @OptionGroup var options: StoreOptions
    @Argument(help: "The candidate id.") var candidate: String

    func run() throws {
        let result = try Runner.run(.decide(candidate: candidate), options: options)
        if options.json { return Runner.printJSON(result) }
        print(Render.decision(result))
    }
}
