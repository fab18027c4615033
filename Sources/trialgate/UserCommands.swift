import ArgumentParser
import Foundation
import TrialGateCore
import TrialGateService

struct UsersGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage who may use the socket; every change is an attributed event in the log.",
        subcommands: [Add.self, List.self, Disable.self, Enable.self, Remove.self, RotateToken.self, RotateSigner.self, Import.self])

    /// Prints a new token once, with how to use it.
    static func showToken(_ token: String, for name: String, receipt: WriteReceipt, json: Bool) {
        if json { return Runner.printJSON(["name": .string(name), "seq": .number(Double(receipt.seq)), "token": .string(token)]) }
        print("Token for \(name) (shown once; the log keeps only its SHA-256, event \(receipt.seq)):")
        print(token)
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account and print its bearer token, once.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The user's name, as it will appear as actor in the log.") var name: String
        @Option(name: .long, help: "coordinator, investigator, monitor, sponsor, regulator or admin.") var role: String
        @Option(name: .long, help: "A site a coordinator, investigator or monitor works at (repeat for several).") var site: [String] = []
        @Option(name: .long, help: "A UTC time after which the account no longer authenticates (2026-12-31T00:00:00Z).") var expires: String?
        @Option(name: .long, help: "An investigator's name as their signatures show it (\"Dr Jane Roe\").") var printedName: String?
        @Option(name: .long, help: "An investigator's Ed25519 public key: the PEM file `trialgate key new` wrote, or base64 of the raw key.")
        var publicKey: String?
        @Option(name: .long, help: "The SHA-256 of the investigator's own signing code (OUT.code.sha256 of `trialgate key new`, or its 64 hex digits).")
        var signingCodeSha256: String?
        @Option(name: .long, help: "Without --signing-code-sha256: make a signing code and write it to this new file (mode 0600) instead of printing it.")
        var signingCodeFile: String?

        func run() throws {
            let expiry = try expires.map { text -> UTCTimestamp in
                guard let t = UTCTimestamp(text) else {
                    throw Runner.fail(TrialGateError(.invalidField, "--expires must be a UTC time like 2026-12-31T00:00:00Z, got \"\(text)\""))
                }
                return t
            }
            let (token, digest) = UserDirectory.newToken()
            var signer: SignerRegistration?
            var signingCode: String?
            if role == Role.investigator.rawValue || printedName != nil || publicKey != nil {
                guard let printedName, let publicKey else {
                    throw Runner.fail(TrialGateError(.missingField, "an investigator needs --printed-name and --public-key (from `trialgate key new`)"))
                }
                let codeDigest: String
                if let signingCodeSha256 {
                    // The investigator made their code; the administrator never sees it.
                    codeDigest = try KeyGroup.New.digest(signingCodeSha256)
                } else {
                    let (code, digest) = UserDirectory.newToken()
                    (signingCode, codeDigest) = (code, digest)
                    if let signingCodeFile, FileManager.default.fileExists(atPath: signingCodeFile) {
                        throw Runner.fail(TrialGateError(.fileExists, "\(signingCodeFile) already exists; choose another --signing-code-file"))
                    }
                }
                signer = SignerRegistration(printedName: printedName, publicKey: try KeyGroup.New.publicKeyBase64(publicKey), signingSHA256: codeDigest)
            }
            let receipt = try Runner.write(.userAdd(name: name, role: role, sites: site, tokenSHA256: digest, expiresAt: expiry, signer: signer), options: options)
            if let signingCode, let signingCodeFile { try KeyGroup.New.writeSecret(signingCode + "\n", to: signingCodeFile) }
            if options.json {
                var o: [String: JSONValue] = ["name": .string(name), "seq": .number(Double(receipt.seq)), "token": .string(token)]
                if let signingCode, signingCodeFile == nil { o["signing_code"] = .string(signingCode) }
                return Runner.printJSON(.object(o))
            }
            print("Added \(name) (\(role)\(site.isEmpty ? "" : ", sites \(site.joined(separator: ","))")\(expiry.map { ", until \($0)" } ?? "")).")
            UsersGroup.showToken(token, for: name, receipt: receipt, json: false)
            if signingCode != nil, let signingCodeFile {
                print("Signing code for \(name) written to \(signingCodeFile) (mode 0600; hand it to \(name) alone; the log keeps only its SHA-256).")
            } else if let signingCode {
                print("Signing code for \(name) (shown once; a second signature component, distinct from the token; the log keeps only its SHA-256):")
                print(signingCode)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts and their status (never a token).")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let result = try Runner.view(.users, as: UsersReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            for u in result.users {
                let status = u.inForce ? "active" : (u.status == "active" ? "expired" : u.status)
                let signer = u.keyID.map { "  key \($0), \"\(u.printedName ?? "")\"" } ?? ""
                print("\(Render.pad(u.name, 24)) \(Render.pad(u.role, 12)) \(Render.pad(status, 9)) \(u.sites.joined(separator: ","))\(signer)")
            }
        }
    }

    /// `disable`, `enable` and `remove`: one account, one reason.
    struct Change: ParsableArguments {
        @OptionGroup var options: StoreOptions
        @Argument(help: "The account's name.") var name: String
        @Option(name: .long, help: "Why (kept in the log).") var reason: String
    }

    static func change(_ command: Command, _ args: Change, _ done: String) throws {
        let receipt = try Runner.write(command, options: args.options)
        if args.options.json { return Runner.printJSON(receipt.json) }
        print("\(args.name) \(done) (event \(receipt.seq)); open sessions are refused from their next request.")
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop an account (it can be enabled again).")
        @OptionGroup var change: Change
        func run() throws { try UsersGroup.change(.userDisable(name: change.name, reason: change.reason), change, "disabled") }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a disabled account act again.")
        @OptionGroup var change: Change
        func run() throws { try UsersGroup.change(.userEnable(name: change.name, reason: change.reason), change, "enabled") }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End an account for good (its history stays in the log).")
        @OptionGroup var change: Change
        func run() throws { try UsersGroup.change(.userRemove(name: change.name, reason: change.reason), change, "removed") }
    }

    struct RotateSigner: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-signer",
            abstract: "Bring an investigator's new key and signing code into force (from their `trialgate key new`); earlier signatures keep their key.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The investigator's account name.") var name: String
        @Option(name: .long, help: "The new public key: OUT.pub of `trialgate key new`, or base64 of the raw key.") var publicKey: String
        @Option(name: .long, help: "The new signing code's SHA-256: OUT.code.sha256 of `trialgate key new`, or its 64 hex digits.") var signingCodeSha256: String

        func run() throws {
            let receipt = try Runner.write(.userRotateSigner(name: name, publicKey: try KeyGroup.New.publicKeyBase64(publicKey),
                                                             signingSHA256: try KeyGroup.New.digest(signingCodeSha256)), options: options)
            if options.json { return Runner.printJSON(receipt.json) }
            print("\(name)'s new key and signing code are in force (event \(receipt.seq)); statements signed before keep their key.")
        }
    }

    struct RotateToken: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate-token", abstract: "Give an account a new token; the old one stops working.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The account's name.") var name: String

        func run() throws {
            let (token, digest) = UserDirectory.newToken()
            let receipt = try Runner.write(.userRotateToken(name: name, tokenSHA256: digest), options: options)
            UsersGroup.showToken(token, for: name, receipt: receipt, json: options.json)
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record the accounts of an earlier release's users file in the log (same tokens), once; then remove the file.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The users file (an earlier release's STORE.users.json).") var file: String

        func run() throws {
            let legacy: [UserDirectory.LegacyUser]
            do { legacy = try UserDirectory.legacyFile(path: file) } catch { throw Runner.fail(TrialGateError(error)) }
            let known = try Runner.view(.users, as: UsersReply.self, options: options).users.map(\.name)
            var imported = 0
            for u in legacy where !known.contains(u.name) {
                _ = try Runner.write(.userAdd(name: u.name, role: u.role, sites: u.sites, tokenSHA256: u.tokenSHA256, expiresAt: nil), options: options)
                imported += 1
            }
            print("Imported \(imported) account\(imported == 1 ? "" : "s") from \(file) (\(legacy.count - imported) already in the log). Remove the file now.")
        }
    }
}
