import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

struct CandidateGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "candidate", abstract: "Register and list candidates.", subcommands: [Register.self, List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered candidates, in registration order, by site and status, a page at a time.")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "Only this site's candidates (a coordinator gives one of their sites).") var site: String?
        @Option(name: .long, help: "Only candidates with this status: \(Dispatcher.candidateStatuses.joined(separator: ", ")).") var status: String?
        @Option(name: .long, help: "Only candidates registered after this sequence number (the previous page's next_after).") var after: Int64 = 0
        @Option(name: .long, help: "At most this many candidates (1–\(Command.maximumPage)); the reply says where the next page starts.") var limit: Int?

        func validate() throws {
            guard after >= 0 else { throw ValidationError("--after must be a sequence number ≥ 0, got \(after)") }
            if let limit, let problem = Command.pageLimitProblem(limit) { throw ValidationError("--limit \(problem)") }
            if let status, !Dispatcher.candidateStatuses.contains(status) {
                throw ValidationError("--status must be one of \(Dispatcher.candidateStatuses.joined(separator: ", ")), got \"\(status)\"")
            }
        }

        func run() throws {
            let result = try Runner.view(.candidates(site: site, status: status, after: after, limit: limit), as: CandidatesReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            print(Render.candidateList(result))
        }
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a candidate under a pseudonymous id.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The pseudonymous candidate id (never a name).") var candidate: String
        @Option(name: .long, help: "The screening site code.") var site: String
        @Option(name: .long, help: "Date screening consent was signed (YYYY-MM-DD).") var consentDate: String?

        func run() throws {
            var fields: [String: JSONValue] = ["site": .string(site)]
            if let consentDate { fields["consent_date"] = .string(consentDate) }
            let receipt = try Runner.write(.register(candidate: candidate, fields: .object(fields)), options: options)
            if options.json { return Runner.printJSON(receipt.json) }
            print("Registered \(candidate) at \(site) as event \(receipt.seq).")
        }
    }
}

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a clinical fact: imaging, ki67, mitotic-count, sstr, radiomics, model-score, clinical or pathology.",
        discussion: "Fields are name=value pairs; values are read as JSON when they parse (12.5, true, [\"a\"]) and as text otherwise. Lab values take their UCUM unit: haemoglobin=\"12.4 g/dL\" (docs/events.md).\nExample: trialgate record ki67 --candidate NET-001 percent=8 specimen_date=2026-03-02 method=manual_count\n`trialgate record KIND --help` lists KIND's fields, with their units and allowed values.")

    @OptionGroup var options: StoreOptions
    @Argument(help: "What is recorded.") var kind: String
    @Option(name: .long, help: "The candidate id.") var candidate: String
    @Argument(help: "name=value pairs.") var fields: [String] = []
    @Option(name: .long, help: "A JSON object of fields (a radiomics record from tools/radiomics/extract.py); name=value pairs add to it.") var fieldsFile: String?

    func run() throws {
        var object: [String: JSONValue] = [:]
        if let fieldsFile {
            let text = try Runner.readFile(fieldsFile)
            guard case .object(let members)? = try? JSONParser.parse(text) else {
                throw Runner.fail(TrialGateError(.invalidField, "\(fieldsFile): --fields-file must hold one JSON object of fields"))
            }
            object = members
        }
        for pair in fields {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw Runner.fail(TrialGateError(.badRequest, "field \"\(pair)\" must be name=value"))
            }
            let name = String(pair[..<eq])
            let raw = String(pair[pair.index(after: eq)...])
            object[name] = Self.value(raw)
        }
        let receipt = try Runner.write(.record(kind: kind, candidate: candidate, fields: .object(object)), options: options)
        if options.json { return Runner.printJSON(receipt.json) }
        print("Recorded \(kind) for \(candidate) as event \(receipt.seq).")
    }

    /// With `record KIND … --help` (or `-h`) for a kind TrialGate records: the usual help, then the fields of that kind
    /// as the current event schema holds them (required first, then optional), each with what its value must be (units,
    /// allowed values, ranges) and what it means. Nil for anything else, which the argument parser answers.
    static func fieldsHelp(arguments: [String]) -> String? {
        guard arguments.first == "record", arguments.contains("--help") || arguments.contains("-h") else { return nil }
        let takesValue: Set<String> = ["--store", "--key", "--actor", "--candidate", "--fields-file"]
        var kind: String?
        var i = 1
        while i < arguments.count, kind == nil {
            let a = arguments[i]
            if takesValue.contains(a) { i += 2; continue }
            if !a.hasPrefix("-") { kind = a }
            i += 1
        }
        guard let kind, let type = EventType.recordKinds[kind],
              let schema = RecordSchema.of(type, version: Event.currentSchemaVersion) else { return nil }
        var lines = [helpMessage(), "FIELDS OF \(kind) (\(type.rawValue), event schema \(schema.version)):"]
        for spec in schema.fields.filter(\.required) + schema.fields.filter({ !$0.required }) {
            lines.append("  \(spec.name)\(spec.required ? " (required)" : "")")
            lines.append("      \(spec.meaning)")
            lines.append("      \(spec.kind.summary)")
        }
        if let observed = schema.observedOnField { lines.append("\nThe date in \(observed) is when the fact was observed: policies judge how recent it is.") }
        return lines.joined(separator: "\n")
    }

    /// A command-line value as JSON: numbers, booleans, lists and objects parse; anything else is text (as an import's cells).
    static func value(_ raw: String) -> JSONValue { FieldText.value(raw) }
}

struct Correct: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Correct one field of an earlier record; the old value stays in the log.")
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "The sequence number of the record to correct.") var seq: Int64
    @Option(name: .long, help: "The field to correct.") var field: String
    @Option(name: .long, help: "The new value (JSON or text).") var value: String
    @Option(name: .long, help: "Why the value changes (required).") var reason: String

    func run() throws {
        let receipt = try Runner.write(.correct(seq: seq, field: field, value: Record.value(value), reason: reason), options: options)
        if options.json { return Runner.printJSON(receipt.json) }
        print("Corrected \(field) of event \(seq) as event \(receipt.seq).")
    }
}

struct Withdraw: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Record that a candidate left screening.")
    @OptionGroup var options: StoreOptions
    @Argument(help: "The candidate id.") var candidate: String
    @Option(name: .long, help: ArgumentHelp("Why, as the CONSORT 2010 flow diagram counts it (required): \(WithdrawalCategory.codes.joined(separator: ", ")).",
                                            valueName: "category")) var category: String
    @Option(name: .long, help: "Why, in words (required when --category is other).") var reason: String?

    func run() throws {
        let parsed: WithdrawalCategory
        do { parsed = try WithdrawalCategory.parse(category, field: "--category") } catch { throw Runner.fail(TrialGateError(error)) }
        let receipt = try Runner.write(.withdraw(candidate: candidate, category: parsed, reason: reason), options: options)
        if options.json { return Runner.printJSON(receipt.json) }
        print("Withdrew \(candidate) (\(parsed.rawValue)) as event \(receipt.seq).")
    }
}
