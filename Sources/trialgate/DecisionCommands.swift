import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService

struct Decide: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate the policy in force, sign the decision and append it.")
    @OptionGroup var options: StoreOptions
    @Argument(help: "The candidate id.") var candidate: String

    func run() throws {
        let result = try Runner.view(.decide(candidate: candidate), as: DecisionReply.self, options: options)
        if options.json { return Runner.printJSON(result) }
        print(Render.decision(result))
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
        let result = try Runner.view(.decisions(candidate: candidate, outcome: outcome, site: site, after: after, limit: limit,
                                                standing: stale ? "stale" : standing), as: DecisionsReply.self, options: options)
        if options.json { return Runner.printJSON(result) }
        print(Render.decisionList(result))
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
            let events = try Runner.view(.export(from: seq, through: seq), as: ExportReply.self, options: options)
            let keys = try Runner.view(.publicKey, as: PublicKeyReply.self, options: options)
            // The event as stored (the log's own document, not a reply): its decision is written out byte for byte as signed.
            guard let event = events.events.first, event["type"]?.stringValue == EventType.decisionIssued.rawValue,
                let decision = event["payload"]?["decision"], let sig = event["payload"]?["signature"]?.stringValue,
                let sigBytes = Data(base64Encoded: sig)
            else { throw Runner.fail(TrialGateError(.unknownEvent, "event \(seq) is not a decision")) }
            // The key the decision names, which was in force when it was made (a newer one may be in force now).
            guard let pem = keys.keys.first(where: { .string($0.keyID) == decision["key_id"] })?.pem else {
                throw Runner.fail(TrialGateError(.unknownEvent, "decision \(seq) names key \(decision["key_id"]?.stringValue ?? "?"), which is not in the log's key history"))
            }
            // Whether it still stands: a regulator holding only these files must not take a stale decision for current.
            let standing = try self.standing(of: decision)
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try Data(CanonicalJSON.encode(decision)).write(to: URL(fileURLWithPath: out + "/decision.json"))
                try sigBytes.write(to: URL(fileURLWithPath: out + "/decision.sig"))
                try Data(pem.utf8).write(to: URL(fileURLWithPath: out + "/public.pem"))
                try Data(CanonicalJSON.encode(standing?.json ?? .null)).write(to: URL(fileURLWithPath: out + "/standing.json"))
            } catch {
                throw Runner.fail(TrialGateError(.fileUnwritable, "cannot write into \(out): \(error.localizedDescription)"))
            }
            var files = ["decision.json", "decision.sig", "public.pem", "standing.json"]
            let signOff = try exportSignOff(of: decision)
            if signOff != nil { files += ["signoff.json", "signoff.sig", "investigator.pem"] }
            if options.json {
                return Runner.printJSON(["directory": .string(out), "files": .array(files.map { .string($0) }), "standing": standing?.json ?? .null,
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
            let st = standing?.standing ?? "?"
            if st == "current" {
                print("\(out)/standing.json: decision \(seq) is current as of event \(standing?.asOf ?? 0).")
            } else {
                let why = (standing?.staleCauses ?? []).map { "event \($0.seq) \($0.detail)" }
                    + [standing?.supersededBy.map { "decision \($0)" }].compactMap { $0 }
                print("WARNING: decision \(seq) is \(st) as of event \(standing?.asOf ?? 0) (\(why.joined(separator: "; "))): it is no longer the candidate's current decision (\(out)/standing.json).")
            }
        }

        /// The decision's standing now: current, stale (and why) or superseded (and by which decision).
        private func standing(of decision: JSONValue) throws -> ExportedStanding? {
            guard let candidate = decision["candidate"]?.stringValue else { return nil }
            let shown = try Runner.view(.show(candidate: candidate, asOfSeq: nil, asOfTime: nil), as: CandidateReply.self, options: options)
            return ExportedStanding(decision: seq, shown: shown)
        }

        /// The investigator's sign-off of the decision, if any: the statement as signed, the signature and the signer's
        /// public key, so that `openssl` alone checks who signed what; the statement names the decision by the
        /// SHA-256 of decision.json.
        private func exportSignOff(of decision: JSONValue) throws -> Int? {
            guard let candidate = decision["candidate"]?.stringValue else { return nil }
            let shown = try Runner.view(.show(candidate: candidate, asOfSeq: nil, asOfTime: nil), as: CandidateReply.self, options: options)
            // The statement is the investigator's signed document, read as signed (its bytes are written out as they are).
            guard let signed = shown.history.last(where: {
                $0.type == EventType.decisionSigned.rawValue && $0.statement?["decision"]?["seq"]?.intValue == Int(seq)
            }), let statement = signed.statement, let sig = signed.signature?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
                return nil
            }
            let user = statement["signer"]?["user"]?.stringValue ?? ""
            let users = try Runner.view(.users, as: UsersReply.self, options: options)
            // The key the statement names, which the account held when it signed (it may have a newer one since).
            let keyID = statement["signer"]?["key_id"]?.stringValue
            guard let account = users.users.first(where: { $0.name == user }),
                  let key = account.signerKeys.first(where: { $0.keyID == keyID }).flatMap({ Data(base64Encoded: $0.publicKey) }) else {
                throw Runner.fail(TrialGateError(.unknownUser, "the sign-off's signer \(user) has no registered key \(keyID ?? "")"))
            }
            do {
                try Data(CanonicalJSON.encode(statement)).write(to: URL(fileURLWithPath: out + "/signoff.json"))
                try sig.write(to: URL(fileURLWithPath: out + "/signoff.sig"))
                try Data(TrialKey.publicKeyPEM(Array(key)).utf8).write(to: URL(fileURLWithPath: out + "/investigator.pem"))
            } catch {
                throw Runner.fail(TrialGateError(.fileUnwritable, "cannot write into \(out): \(error.localizedDescription)"))
            }
            return Int(signed.seq)
        }
    }
}
