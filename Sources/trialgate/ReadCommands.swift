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
    @Option(name: .long, help: "Only decisions after this sequence number (the previous page's next_after).") var after: Int64 = 0
    @Option(name: .long, help: "At most this many decisions (1–\(Command.maximumPage)); the reply says where the next page starts.") var limit: Int?
    @Flag(name: .long, help: "Only stale decisions: the newest of their candidate, made before the data or the policy changed.") var stale = false
    @Option(name: .long, help: "Only decisions that are current, stale or superseded.") var standing: String?

    func validate() throws {
        guard after >= 0 else { throw ValidationError("--after must be a sequence number ≥ 0, got \(after)") }
        if let limit, let problem = Command.pageLimitProblem(limit) {
            throw ValidationError("--limit \(problem)")
        }
        if let standing, !["current", "stale", "superseded"].contains(standing) {
            throw ValidationError("--standing must be current, stale or superseded, got \"\(standing)\"")
        }
    }

    func run() throws {
        let result = try Runner.run(.decisions(candidate: candidate, outcome: outcome, site: site, after: after, limit: limit,
                                               standing: stale ? "stale" : standing), options: options)
        if options.json { return Runner.printJSON(result) }
        print(Render.decisionList(result))
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every hash, the chain, every event's rules, every signature and checkpoint; or an exported bundle.",
        discussion: """
            With --checkpoint FILE (a signed checkpoint saved earlier), also prove the log extends it: a shorter log was
            truncated or rolled back, another root means it was rewritten. With --vkey, the checkpoint must be signed by
            that key (a C2SP vkey line, or a file holding one) rather than any key of the log's own history.
            With --bundle DIR, check an audit bundle from `trialgate export --out` instead of the store.
            """)
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "A signed checkpoint saved earlier that the log must extend.") var checkpoint: String?
    @Option(name: .long, help: "The verifier key (vkey) checkpoints must be signed by.") var vkey: String?
    @Option(name: .long, help: "Check this audit bundle directory instead of the store.") var bundle: String?

    func run() throws {
        if let bundle { return try BundleCheck.run(directory: bundle, vkey: vkey, checkpointFile: checkpoint, json: options.json) }
        let note = try checkpoint.map { try Runner.readFile($0) }
        let key = try vkey.map { FileManager.default.fileExists(atPath: $0) ? try Runner.readFile($0) : $0 }
        let result = try Runner.run(.verify(checkpoint: note, vkey: key), options: options)
        let valid = result["valid"]?.boolValue == true
        if options.json { Runner.printJSON(result) } else {
            if valid {
                print("OK: \(result["events"]?.intValue ?? 0) events, chain intact, \(result["signatures_checked"]?.intValue ?? 0) signatures and \(result["checkpoints_checked"]?.intValue ?? 0) checkpoints valid; head \(result["head"]?.stringValue ?? ""), root \(result["root"]?.stringValue ?? "").")
                if let n = result["report_snapshots_checked"]?.intValue, n > 0 {
                    print("\(n) saved report snapshot\(n == 1 ? "" : "s") checked: signed, and equal to the fold at \(n == 1 ? "its size" : "their sizes").")
                }
                if let c = result["checkpoint"] {
                    print("The log extends the saved checkpoint of size \(c["size"]?.intValue ?? 0) (signed by \(c["signed_by"]?.stringValue ?? "?"); consistency proof of \(c["consistency_proof"]?.arrayValue?.count ?? 0) hashes).")
                }
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
        abstract: "Export the log: an audit bundle (--out DIR), events as canonical JSON lines, FHIR R4 ResearchSubject NDJSON, or the audit trail as CSV.")
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "Write the audit bundle (events, checkpoints, decisions with proofs, keys, policies, manifest) into this new directory.") var out: String?
    @Option(name: .long, help: "events (default), fhir or audit-csv.") var format = "events"
    @Option(name: .long, help: "events: first sequence number.") var from: Int64 = 1
    @Option(name: .long, help: "events: last sequence number.") var through: Int64?
    @Option(name: .long, help: "fhir: only this site.") var site: String?
    @Option(name: .long, help: "audit-csv: only this candidate.") var candidate: String?

    func run() throws {
        if let out { return try BundleExport.run(options: options, out: out) }
        switch format {
        case "events":
            // Page by page, so memory stays bounded however long the log is, up to the head as it is now.
            let last = try through ?? Int64(Runner.run(.head, options: options)["size"]?.intValue ?? 0)
            try Runner.forEachPage(from: from, options: options, { .export(from: $0, through: last) }) { result, _ in
                for e in result["events"]?.arrayValue ?? [] { print(CanonicalJSON.string(e)) }
            }
        case "fhir":
            let result = try Runner.run(.exportFHIR(site: site), options: options)
            for r in result["resources"]?.arrayValue ?? [] { print(CanonicalJSON.string(r)) }
        case "audit-csv":
            try Runner.forEachPage(from: 1, options: options, { .auditTrail(candidate: candidate, from: $0) }) { result, page in
                let csv = result["csv"]?.stringValue ?? ""
                // Every page carries the header; print it once.
                let body = csv.utf8.firstIndex(of: UInt8(ascii: "\n")).map { String(csv[csv.utf8.index(after: $0)...]) } ?? ""
                print(page == 1 ? csv : body, terminator: "")
            }
        default:
            throw Runner.fail(TrialGateError(.invalidField, "--format must be events, fhir or audit-csv, got \"\(format)\""))
        }
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read one JSON request per line from stdin and answer one JSON line each (see docs/protocol.md).")
    @OptionGroup var options: StoreOptions

    func run() throws {
        let store: EventStore
        do { store = try EventStore.open(path: options.storePath) } catch { throw Runner.fail(TrialGateError(error)) }
        defer { store.close() }
        let dispatcher = Dispatcher(store: store, clock: SystemClock(), key: { try TrialKey.load(path: options.keyPath) })
        let actor = options.actorName
        // The socket's line protocol, as the host's actor: the same framing, blank lines, parsing and replies.
        var session = LineProtocol.host(actor: actor)
        var failures = 0
        var accountsSeen: Int64 = -1
        while let line = readLine(strippingNewline: true) {
            let frame = Frame.line(framing: line.utf8)
            if frame.isBlank { continue }
            // As for every command-line write: never under an account's name (checked again when accounts change).
            do {
                let version = try store.newestSeq(types: EventType.accountEvents)
                if version != accountsSeen {
                    try Runner.requireHostActor(actor, store: store)
                    accountsSeen = version
                }
            } catch {
                throw Runner.fail(TrialGateError(error))
            }
            guard let reply = dispatcher.answer(frame, with: &session) else { continue }
            if !reply.ok { failures += 1 }
            print(String(decoding: reply.line, as: UTF8.self))
            fflush(nil)
        }
        if failures > 0 { throw ExitCode(2) }
    }
}

struct KeyGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key", abstract: "The trial's signing keys, and investigators' own.", subcommands: [Public.self, VKey.self, Rotate.self, New.self])

    struct VKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "vkey", abstract: "Print the C2SP verifier key (vkey) of the key in force; keep it to check checkpoints later.")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let result = try Runner.run(.publicKey, options: options)
            if options.json { return Runner.printJSON(result) }
            print(result["vkey"]?.stringValue ?? "")
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring a new signing key into force, announced by an event signed with the current key (--key) and the new one.",
            discussion: "Writes the new key to --new-key (mode 0600). From then on, decide and every write need --key pointing at the new key.")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "Where to write the new PKCS#8 PEM key (must not exist).") var newKey: String

        func run() throws {
            if FileManager.default.fileExists(atPath: newKey) {
                throw Runner.fail(TrialGateError(.keyExists, "\(newKey) already exists; choose another --new-key"))
            }
            let key = TrialKey.generate()
            do { try key.write(to: newKey) } catch { throw Runner.fail(TrialGateError(error)) }
            let result: JSONValue
            do { result = try Runner.run(.keyRotate(newKey: key), options: options) } catch {
                try? FileManager.default.removeItem(atPath: newKey)
                throw error
            }
            if options.json { return Runner.printJSON(result) }
            print("Key \(result["previous_key_id"]?.stringValue ?? "") → \(key.keyID) at event \(result["seq"]?.intValue ?? 0); new key in \(newKey) (mode 0600).")
            print("Use --key \(newKey) (or export TRIALGATE_KEY=\(newKey)) from now on. Public key:\n" + key.publicKeyPEM, terminator: "")
        }
    }

    struct Public: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the trial's public key in force, from the log, as PEM (SubjectPublicKeyInfo); --json gives the history.")
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
            let keys = try Runner.run(.publicKey, options: options)
            guard let event = events["events"]?.arrayValue?.first, event["type"]?.stringValue == EventType.decisionIssued.rawValue,
                let decision = event["payload"]?["decision"], let sig = event["payload"]?["signature"]?.stringValue,
                let sigBytes = Data(base64Encoded: sig)
            else { throw Runner.fail(TrialGateError(.unknownEvent, "event \(seq) is not a decision")) }
            // The key the decision names, which was in force when it was made (a newer one may be in force now).
            guard let pem = (keys["keys"]?.arrayValue ?? []).first(where: { $0["key_id"] == decision["key_id"] })?["pem"]?.stringValue else {
                throw Runner.fail(TrialGateError(.unknownEvent, "decision \(seq) names key \(decision["key_id"]?.stringValue ?? "?"), which is not in the log's key history"))
            }
            // Whether it still stands: a regulator holding only these files must not take a stale decision for current.
            let standing = try self.standing(of: decision)
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try Data(CanonicalJSON.encode(decision)).write(to: URL(fileURLWithPath: out + "/decision.json"))
                try sigBytes.write(to: URL(fileURLWithPath: out + "/decision.sig"))
                try Data(pem.utf8).write(to: URL(fileURLWithPath: out + "/public.pem"))
                try Data(CanonicalJSON.encode(standing)).write(to: URL(fileURLWithPath: out + "/standing.json"))
            } catch {
                throw Runner.fail(TrialGateError(.fileUnwritable, "cannot write into \(out): \(error.localizedDescription)"))
            }
            var files = ["decision.json", "decision.sig", "public.pem", "standing.json"]
            let signOff = try exportSignOff(of: decision)
            if signOff != nil { files += ["signoff.json", "signoff.sig", "investigator.pem"] }
            if options.json {
                return Runner.printJSON(["directory": .string(out), "files": .array(files.map { .string($0) }), "standing": standing,
                                         "signoff_seq": signOff.map { .number(Double($0)) } ?? .null])
            }
            print("Wrote \(out)/decision.json, \(out)/decision.sig and \(out)/public.pem. Verify with:")
            print("  openssl pkeyutl -verify -pubin -inkey \(out)/public.pem -rawin -in \(out)/decision.json -sigfile \(out)/decision.sig")
            if let signOff {
                print("Wrote \(out)/signoff.json, \(out)/signoff.sig and \(out)/investigator.pem (the sign-off, event \(signOff)). Verify with:")
                print("  openssl pkeyutl -verify -pubin -inkey \(out)/investigator.pem -rawin -in \(out)/signoff.json -sigfile \(out)/signoff.sig")
                print("  sha256sum \(out)/decision.json    # must equal decision.sha256 in signoff.json")
            } else {
                print("Decision \(seq) has no investigator's sign-off.")
            }
            let st = standing["standing"]?.stringValue ?? "?"
            if st == "current" {
                print("\(out)/standing.json: decision \(seq) is current as of event \(standing["as_of"]?.intValue ?? 0).")
            } else {
                let why = (standing["stale_causes"]?.arrayValue ?? []).map { "event \($0["seq"]?.intValue ?? 0) \($0["detail"]?.stringValue ?? "")" }
                    + [standing["superseded_by"]?.intValue.map { "decision \($0)" }].compactMap { $0 }
                print("WARNING: decision \(seq) is \(st) as of event \(standing["as_of"]?.intValue ?? 0) (\(why.joined(separator: "; "))): it is no longer the candidate's current decision (\(out)/standing.json).")
            }
        }

        /// The decision's standing now: current, stale (and why) or superseded (and by which decision).
        private func standing(of decision: JSONValue) throws -> JSONValue {
            guard let candidate = decision["candidate"]?.stringValue else { return .null }
            let shown = try Runner.run(.show(candidate: candidate, asOfSeq: nil, asOfTime: nil), options: options)
            let lifecycle = shown["decision"] ?? .null
            let asOf = shown["as_of"]?["last_seq"] ?? .null
            if lifecycle["decision_seq"]?.intValue != Int(seq) {
                return ["decision_seq": .number(Double(seq)), "standing": "superseded", "superseded_by": lifecycle["decision_seq"] ?? .null,
                        "stale_causes": [], "as_of": asOf, "note": "not signed; from the log at export"]
            }
            return ["decision_seq": .number(Double(seq)), "standing": lifecycle["standing"] ?? .null, "stale_causes": lifecycle["stale_causes"] ?? [],
                    "superseded_by": .null, "confirmed": lifecycle["confirmed"] ?? .null, "as_of": asOf, "note": "not signed; from the log at export"]
        }

        /// The investigator's sign-off of the decision, if any: the statement as signed, the signature and the signer's
        /// public key, so that `openssl` alone checks who signed what; the statement names the decision by the
        /// SHA-256 of decision.json.
        private func exportSignOff(of decision: JSONValue) throws -> Int? {
            guard let candidate = decision["candidate"]?.stringValue else { return nil }
            let shown = try Runner.run(.show(candidate: candidate, asOfSeq: nil, asOfTime: nil), options: options)
            guard let signed = (shown["history"]?.arrayValue ?? []).last(where: {
                $0["type"]?.stringValue == EventType.decisionSigned.rawValue && $0["statement"]?["decision"]?["seq"]?.intValue == Int(seq)
            }), let statement = signed["statement"], let sig = signed["signature"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
                return nil
            }
            let user = statement["signer"]?["user"]?.stringValue ?? ""
            let users = try Runner.run(.users, options: options)
            // The key the statement names, which the account held when it signed (it may have a newer one since).
            let keyID = statement["signer"]?["key_id"]?.stringValue
            guard let account = (users["users"]?.arrayValue ?? []).first(where: { $0["name"]?.stringValue == user }),
                  let key = (account["signer_keys"]?.arrayValue ?? []).first(where: { $0["key_id"]?.stringValue == keyID })?["public_key"]?
                    .stringValue.flatMap({ Data(base64Encoded: $0) }) else {
                throw Runner.fail(TrialGateError(.unknownUser, "the sign-off's signer \(user) has no registered key \(keyID ?? "")"))
            }
            do {
                try Data(CanonicalJSON.encode(statement)).write(to: URL(fileURLWithPath: out + "/signoff.json"))
                try sig.write(to: URL(fileURLWithPath: out + "/signoff.sig"))
                try Data(TrialKey.publicKeyPEM(Array(key)).utf8).write(to: URL(fileURLWithPath: out + "/investigator.pem"))
            } catch {
                throw Runner.fail(TrialGateError(.fileUnwritable, "cannot write into \(out): \(error.localizedDescription)"))
            }
            return signed["seq"]?.intValue
        }
    }
}
