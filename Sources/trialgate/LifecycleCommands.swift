import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateServer
import TrialGateService

/// What an investigator's signing needs on their side: their account, key and signing code, and where to send it.
struct SigningOptions: ParsableArguments {
    @OptionGroup var options: StoreOptions
    @Option(name: .customLong("as"), help: "Your investigator account name.") var user: String
    @Option(name: .long, help: "Your Ed25519 private key (PKCS#8 PEM from `trialgate key new`).") var signingKey: String
    @Option(name: .long, help: "A file holding your signing code (default: $TRIALGATE_SIGNING_CODE).") var signingCodeFile: String?
    @Option(name: .long, help: "Sign over a server: HOST:PORT or unix:PATH (with --token / $TRIALGATE_TOKEN).") var connect: String?
    @Option(name: .long, help: "Bearer token for --connect (default: $TRIALGATE_TOKEN).") var token: String?
    @Option(name: .long, help: "Use TLS and trust this PEM CA for the server's certificate.") var tlsCa: String?
    @Option(name: .long, help: "Use TLS and require the server's leaf certificate to have this SHA-256.") var tlsPin: String?

    /// The key, the signing code and a way to run commands (on the store, or on the server when --connect is given).
    func open() throws -> (key: TrialKey, code: String, call: (Command) throws -> Reply) {
        let key: TrialKey
        do { key = try TrialKey.load(path: signingKey) } catch { throw Runner.fail(TrialGateError(error)) }
        let code: String
        if let signingCodeFile {
            code = try Runner.readFile(signingCodeFile).trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let env = Environment.get("TRIALGATE_SIGNING_CODE") {
            code = env
        } else {
            throw Runner.fail(TrialGateError(.missingField, "give --signing-code-file or set TRIALGATE_SIGNING_CODE: signing needs your signing code"))
        }
        guard let connect else { return (key, code, { try Runner.perform($0, options: options) }) }
        let client = try ClientOptions.parse(["--connect", connect] + (token.map { ["--token", $0] } ?? [])
                                             + (tlsCa.map { ["--tls-ca", $0] } ?? []) + (tlsPin.map { ["--tls-pin", $0] } ?? [])).open()
        return (key, code, { .received(try ClientOptions.call(client, Self.request($0))) })
    }

    /// The members of a prepared statement a signer checks; a statement that has none of them names nothing to sign.
    static func summary(_ statement: JSONValue) throws -> StatementSummary {
        do { return try StatementSummary(of: statement) } catch {
            throw Runner.fail(TrialGateError(.notSignable, "the statement to sign is not a statement: \(TrialGateError(error).message); not signed"))
        }
    }

    /// Signs what the store or server prepared, after checking it names this signer and key; the statement is
    /// signed as it came, byte for byte in RFC 8785.
    func sign(_ statement: JSONValue, with key: TrialKey, what: String) throws -> String {
        let signer = try Self.summary(statement).signer
        guard signer?.user == user, signer?.keyID == key.keyID else {
            throw Runner.fail(TrialGateError(.notSignable, "the statement to sign does not name \(what), signer \(user) and your key \(key.keyID); not signed"))
        }
        return Data(key.sign(CanonicalJSON.encode(statement))).base64EncodedString()
    }

    /// The protocol request of the commands signing sends to a server.
    static func request(_ command: Command) -> JSONValue {
        switch command {
        case .signOffPrepare(let decision, let outcome, let reason, let user):
            var o: [String: JSONValue] = ["cmd": "signoff.prepare", "decision": .number(Double(decision))]
            if let outcome { o["outcome"] = .string(outcome) }
            if let reason { o["reason"] = .string(reason) }
            if let user { o["user"] = .string(user) }
            return .object(o)
        case .attestPrepare(let candidate, let fields, let user):
            var o: [String: JSONValue] = ["cmd": "attest.prepare", "candidate": .string(candidate), "fields": fields]
            if let user { o["user"] = .string(user) }
            return .object(o)
        case .signOff(let statement, let signature, let user, let code), .attest(let statement, let signature, let user, let code):
            var o: [String: JSONValue] = ["cmd": .string(command.name), "statement": statement, "signature": .string(signature), "signing_code": .string(code)]
            if let user { o["user"] = .string(user) }
            return .object(o)
        default:
            return ["cmd": .string(command.name)]
        }
    }
}

struct SignOffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signoff",
        abstract: "Sign off a current decision as its investigator: confirm it, or override it with a reason.",
        discussion: """
            Asks the store (or the server, with --connect) for the statement to sign, shows what it means, signs it here
            with --signing-key (the server never sees the private key) and sends it with the signing code. The code is
            read from --signing-code-file or $TRIALGATE_SIGNING_CODE, never from the command line.
            """)
    @OptionGroup var signing: SigningOptions
    @Option(name: .long, help: "The decision event's sequence number.") var decision: Int64
    @Flag(name: .long, help: "Confirm the decision's outcome.") var confirm = false
    @Option(name: .long, help: "Override the decision: eligible or ineligible (needs --reason).") var override: String?
    @Option(name: .long, help: "Why (required to override).") var reason: String?

    func validate() throws {
        guard confirm != (override != nil) else { throw ValidationError("give either --confirm or --override eligible|ineligible") }
        if let override, !["eligible", "ineligible"].contains(override) {
            throw ValidationError("--override must be eligible or ineligible, got \"\(override)\"")
        }
    }

    func run() throws {
        let (key, code, call) = try signing.open()
        // The outcome asked for: the decision's own (confirm, nil) or the one named (override).
        let prepare = Command.signOffPrepare(decision: decision, outcome: override, reason: reason, user: signing.user)
        let statement = try Runner.typed(try call(prepare), as: SignOffPrepareReply.self, command: prepare).statement
        let summary = try SigningOptions.summary(statement)
        guard summary.decision?.seq == decision else {
            throw Runner.fail(TrialGateError(.notSignable, "the statement to sign does not name decision \(decision); not signed"))
        }
        let signature = try signing.sign(statement, with: key, what: "decision \(decision)")
        let signOff = Command.signOff(statement: statement, signature: signature, user: signing.user, signingCode: code)
        let reply = try call(signOff)
        // The reply as it came: a receipt this command line cannot read is still printed whole.
        if signing.options.json { return Runner.printJSON(reply.json) }
        let receipt = Runner.recorded(reply, command: signOff)
        print("Signed (event \(receipt.map { "\($0.seq)" } ?? "?")): \(summary.meaningText ?? "")")
        print("Signed at \(summary.signedAt ?? "") by \(summary.signer?.printedName ?? "") with key \(key.keyID).")
    }
}

struct AttestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attest",
        abstract: "Attest a criterion no structured fact decides (consent, history), as the candidate's investigator, signed with your key.")
    @OptionGroup var signing: SigningOptions
    @Option(name: .long) var candidate: String
    @Option(name: .long, help: "The policy criterion attested (its id).") var criterion: String
    @Option(name: .long, help: "pass (the inclusion holds or the exclusion does not apply) or fail.") var result: String
    @Option(name: .long, help: "The date the facts were checked (YYYY-MM-DD).") var attestedOn: String
    @Option(name: .long, help: "What was checked, in words.") var statement: String?

    func run() throws {
        let (key, code, call) = try signing.open()
        var fields: [String: JSONValue] = ["criterion": .string(criterion), "result": .string(result), "attested_on": .string(attestedOn)]
        if let statement { fields["statement"] = .string(statement) }
        let prepare = Command.attestPrepare(candidate: candidate, fields: .object(fields), user: signing.user)
        let signed = try Runner.typed(try call(prepare), as: AttestPrepareReply.self, command: prepare).statement
        let summary = try SigningOptions.summary(signed)
        guard summary.candidate == candidate, summary.criterion == criterion else {
            throw Runner.fail(TrialGateError(.notSignable, "the statement to sign does not name \(candidate) and \(criterion); not signed"))
        }
        let signature = try signing.sign(signed, with: key, what: "\(candidate) \(criterion)")
        let attest = Command.attest(statement: signed, signature: signature, user: signing.user, signingCode: code)
        let reply = try call(attest)
        if signing.options.json { return Runner.printJSON(reply.json) }
        let appended = Runner.recorded(reply, command: attest)
        print("Attested \(criterion) \(result) for \(candidate) (event \(appended.map { "\($0.seq)" } ?? "?")), signed by \(summary.signer?.printedName ?? "") with key \(key.keyID).")
    }
}

struct Queries: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List review queries: criteria to review, stale decisions, questions.")
    @OptionGroup var options: StoreOptions
    @Option(name: .long) var candidate: String?
    @Option(name: .long) var site: String?
    @Flag(name: .long, help: "Only queries not closed yet.") var open = false
    @Option(name: .long, help: "open, answered or closed.") var status: String?

    func run() throws {
        let result = try Runner.view(.queries(candidate: candidate, site: site, status: open ? "open" : status), as: QueriesReply.self, options: options)
        if options.json { return Runner.printJSON(result) }
        if result.queries.isEmpty { return print("No queries.") }
        for q in result.queries {
            print("\(Render.pad("#\(q.seq)", 7)) \(Render.pad(q.candidate, 12)) \(Render.pad(q.site ?? "", 8)) \(Render.pad(q.status, 9)) \(Render.pad(q.criterion ?? q.about, 22)) \(q.ageDays.map { "\($0) d" } ?? "")")
            print("        \(q.text)")
            for a in q.answers { print("        answered by \(a.by): \(a.note)") }
            if let c = q.closed { print("        closed by \(c.by): \(c.resolution)") }
        }
    }
}

struct QueryGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "query", abstract: "Open, answer and close review queries.",
                                                    subcommands: [Open.self, Answer.self, Close.self])

    static func done(_ receipt: WriteReceipt, _ options: StoreOptions, _ what: String) {
        if options.json { return Runner.printJSON(receipt.json) }
        print("\(what) (event \(receipt.seq)).")
    }

    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask a question about a candidate (investigator or monitor).")
        @OptionGroup var options: StoreOptions
        @Argument var candidate: String
        @Option(name: .long, help: "The criterion it is about, if any.") var criterion: String?
        @Option(name: .long, help: "What is missing or unclear.") var text: String
        func run() throws { QueryGroup.done(try Runner.write(.queryOpen(candidate: candidate, criterion: criterion, text: text), options: options), options, "Query opened") }
    }

    struct Answer: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Answer a query with a note and the records that answer it (coordinator).")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The query's sequence number.") var query: Int64
        @Option(name: .long) var note: String
        @Option(name: .long, help: "A record that answers it (repeat for several).") var record: [Int64] = []
        func run() throws { QueryGroup.done(try Runner.write(.queryAnswer(query: query, note: note, records: record), options: options), options, "Query \(query) answered") }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a query (investigator or monitor).")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The query's sequence number.") var query: Int64
        @Option(name: .long) var resolution: String
        func run() throws { QueryGroup.done(try Runner.write(.queryClose(query: query, resolution: resolution), options: options), options, "Query \(query) closed") }
    }
}
