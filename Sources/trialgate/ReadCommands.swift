import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A candidate's full history, corrections and current facts.")
    @OptionGroup var options: StoreOptions
    @Argument(help: "The candidate id.") var candidate: String
    @Option(name: .long, help: "Show the state as of a sequence number or a UTC time (2026-01-31T12:00:00Z).") var asOf: String?

    func run() throws {
        let (seq, time) = try Runner.asOf(asOf)
        let result = try Runner.run(.show(candidate: candidate, asOfSeq: seq, asOfTime: time), options: options)
        if options.json { return Runner.printJSON(result) }
        print(Render.candidate(result))
    }
}

struct Decisions: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List issued decisions, optionally filtered.")
    @OptionGroup var options: StoreOptions
    @Option(name: .long) var candidate: String?
    @Option(name: .long, help: "eligible, ineligible or needs_review.") var outcome: String?
    @Option(name: .long) var site: String?

    func run() throws {
        let result = try Runner.run(.decisions(candidate: candidate, outcome: outcome, site: site), options: options)
        if options.json { return Runner.printJSON(result) }
        print(Render.decisionList(result))
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check every hash, the chain, every event's rules and every signature.")
    @OptionGroup var options: StoreOptions

    func run() throws {
        let result = try Runner.run(.verify, options: options)
        let valid = result["valid"]?.boolValue == true
        if options.json { Runner.printJSON(result) } else {
            if valid {
                print("OK: \(result["events"]?.intValue ?? 0) events, chain intact, \(result["signatures_checked"]?.intValue ?? 0) decision signatures valid; head \(result["head"]?.stringValue ?? "").")
            } else {
                print("FAILED: first bad event is \(result["first_bad_seq"]?.intValue.map(String.init) ?? "the file itself")")
                for p in result["problems"]?.arrayValue ?? [] {
                    print("  event \(p["seq"]?.intValue ?? 0): \(p["code"]?.stringValue ?? ""): \(p["message"]?.stringValue ?? "")")
                }
                for s in result["structure"]?.arrayValue ?? [] { print("  file: \(s.stringValue ?? "")") }
            }
        }
        if !valid { throw ExitCode(1) }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rebuild every candidate from the log and re-derive every decision.")
    @OptionGroup var options: StoreOptions

    func run() throws {
        let result = try Runner.run(.replay, options: options)
        let mismatched = result["mismatched"]?.intValue ?? 0
        let valid = result["valid"]?.boolValue == true
        if options.json { Runner.printJSON(result) } else {
            print("Replayed \(result["events"]?.intValue ?? 0) events: \(result["candidates"]?.intValue ?? 0) candidates, \(result["decisions"]?.intValue ?? 0) decisions.")
            print("reproduced \(result["reproduced"]?.intValue ?? 0), mismatched \(mismatched)")
            print("state sha256 \(result["state_sha256"]?.stringValue ?? "")")
            for p in result["problems"]?.arrayValue ?? [] {
                print("  event \(p["seq"]?.intValue ?? 0): \(p["code"]?.stringValue ?? ""): \(p["message"]?.stringValue ?? "")")
            }
        }
        if mismatched > 0 || !valid { throw ExitCode(1) }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export the log: events as canonical JSON lines, FHIR R4 ResearchSubject NDJSON, or the audit trail as CSV.")
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "events (default), fhir or audit-csv.") var format = "events"
    @Option(name: .long, help: "events: first sequence number.") var from: Int64 = 1
    @Option(name: .long, help: "events: last sequence number.") var through: Int64?
    @Option(name: .long, help: "fhir: only this site.") var site: String?
    @Option(name: .long, help: "audit-csv: only this candidate.") var candidate: String?

    func run() throws {
        switch format {
        case "events":
            let result = try Runner.run(.export(from: from, through: through), options: options)
            for e in result["events"]?.arrayValue ?? [] { print(CanonicalJSON.string(e)) }
        case "fhir":
            let result = try Runner.run(.exportFHIR(site: site), options: options)
            for r in result["resources"]?.arrayValue ?? [] { print(CanonicalJSON.string(r)) }
        case "audit-csv":
            let result = try Runner.run(.auditTrail(candidate: candidate), options: options)
            print(result["csv"]?.stringValue ?? "", terminator: "")
        default:
            throw Runner.fail(ServiceError("invalid_field", "--format must be events, fhir or audit-csv, got \"\(format)\""))
        }
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read one JSON request per line from stdin and answer one JSON line each (see docs/protocol.md).")
    @OptionGroup var options: StoreOptions

    func run() throws {
        let store: EventStore
        do { store = try EventStore.open(path: options.storePath) } catch { throw Runner.fail(ServiceError(error)) }
        defer { store.close() }
        let dispatcher = Dispatcher(store: store, clock: SystemClock(), key: { try TrialKey.load(path: options.keyPath) })
        let actor = options.actorName
        var failures = 0
        while let line = readLine(strippingNewline: true) {
            if line.allSatisfy(\.isWhitespace) { continue }
            let reply = dispatcher.handle(line: Array(line.utf8), actor: actor)
            if reply.contains("\"ok\":false") { failures += 1 }
            print(reply)
            fflush(nil)
        }
        if failures > 0 { throw ExitCode(2) }
    }
}

struct KeyGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key", abstract: "The trial's public key.", subcommands: [Public.self])

    struct Public: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the trial's public key, from the log, as PEM (SubjectPublicKeyInfo).")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let result = try Runner.run(.publicKey, options: options)
            if options.json { return Runner.printJSON(result) }
            print(result["pem"]?.stringValue ?? "", terminator: "")
        }
    }
}

struct DecisionGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decision", abstract: "Hand a decision to outside tools.",
                                                    subcommands: [ExportFiles.self])

    struct ExportFiles: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a decision's signed bytes, signature and public key for `openssl pkeyutl -verify`.")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "The decision event's sequence number.") var seq: Int64
        @Option(name: .long, help: "Directory to write decision.json, decision.sig and public.pem into.") var out: String

        func run() throws {
            let events = try Runner.run(.export(from: seq, through: seq), options: options)
            let key = try Runner.run(.publicKey, options: options)
            guard let event = events["events"]?.arrayValue?.first, event["type"]?.stringValue == EventType.decisionIssued.rawValue,
                let decision = event["payload"]?["decision"], let sig = event["payload"]?["signature"]?.stringValue,
                let sigBytes = Data(base64Encoded: sig)
            else { throw Runner.fail(ServiceError("unknown_event", "event \(seq) is not a decision")) }
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try Data(CanonicalJSON.encode(decision)).write(to: URL(fileURLWithPath: out + "/decision.json"))
                try sigBytes.write(to: URL(fileURLWithPath: out + "/decision.sig"))
                try Data((key["pem"]?.stringValue ?? "").utf8).write(to: URL(fileURLWithPath: out + "/public.pem"))
            } catch {
                throw Runner.fail(ServiceError("file_unwritable", "cannot write into \(out): \(error.localizedDescription)"))
            }
            print("Wrote \(out)/decision.json, \(out)/decision.sig and \(out)/public.pem. Verify with:")
            print("  openssl pkeyutl -verify -pubin -inkey \(out)/public.pem -rawin -in \(out)/decision.json -sigfile \(out)/decision.sig")
        }
    }
}
