import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService

struct KeyGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key", abstract: "The trial's signing keys, and investigators' own.", subcommands: [Public.self, VKey.self, Rotate.self, New.self])

    struct VKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "vkey", abstract: "Print the C2SP verifier key (vkey) of the key in force; keep it to check checkpoints later.")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let result = try Runner.view(.publicKey, as: PublicKeyReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            print(result.current.vkey)
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
            let receipt: WriteReceipt
            do { receipt = try Runner.write(.keyRotate(newKey: key), options: options) } catch {
                try? FileManager.default.removeItem(atPath: newKey)
                throw error
            }
            if options.json { return Runner.printJSON(receipt.json) }
            print("Key \(receipt.previousKeyID ?? "") → \(key.keyID) at event \(receipt.seq); new key in \(newKey) (mode 0600).")
            print("Use --key \(newKey) (or export TRIALGATE_KEY=\(newKey)) from now on. Public key:\n" + key.publicKeyPEM, terminator: "")
        }
    }

    struct Public: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the trial's public key in force, from the log, as PEM (SubjectPublicKeyInfo); --json gives the history.")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let result = try Runner.view(.publicKey, as: PublicKeyReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            print(result.current.pem, terminator: "")
        }
    }
}

extension KeyGroup {
    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an investigator's own Ed25519 signing key and signing code, and print what the administrator needs.",
            discussion: """
                Writes OUT (the private key, PKCS#8 PEM, mode 0600), OUT.pub (its public key), OUT.code (a new signing code,
                mode 0600) and OUT.code.sha256 (the code's SHA-256). The key and the code stay with the investigator:
                `trialgate signoff` and `trialgate attest` use them on their side. The administrator gets OUT.pub and
                OUT.code.sha256 for `users add --public-key --signing-code-sha256`, so nobody else ever sees the code.
                """)
        @Option(name: .long, help: "Where to write the private key (must not exist); the public key goes to the same name + .pub.") var out: String
        @Flag(name: .long, help: "Print the result as JSON.") var json = false

        func run() throws {
            if FileManager.default.fileExists(atPath: out) {
                throw Runner.fail(TrialGateError(.keyExists, "\(out) already exists; choose another --out"))
            }
            for f in [out + ".pub", out + ".code", out + ".code.sha256"] where FileManager.default.fileExists(atPath: f) {
                throw Runner.fail(TrialGateError(.keyExists, "\(f) already exists; choose another --out"))
            }
            let key = TrialKey.generate()
            let (code, digest) = UserDirectory.newToken()
            do {
                try key.write(to: out)
                try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: out + ".pub"))
                try Self.writeSecret(code + "\n", to: out + ".code")
                try Data((digest + "\n").utf8).write(to: URL(fileURLWithPath: out + ".code.sha256"))
            } catch let e as ExitCode {
                throw e
            } catch {
                throw Runner.fail(TrialGateError(error))
            }
            let b64 = Data(key.publicKey).base64EncodedString()
            if json {
                return Runner.printJSON(["private_key": .string(out), "public_key_pem": .string(out + ".pub"), "public_key": .string(b64), "key_id": .string(key.keyID),
                                         "signing_code": .string(out + ".code"), "signing_code_sha256": .string(digest)])
            }
            print("Wrote \(out) (private key, 0600), \(out).code (your signing code, 0600): keep both to yourself.")
            print("For the administrator: \(out).pub (key id \(key.keyID)) and \(out).code.sha256 (\(digest)).")
        }

        /// Writes a new file readable by its owner only, refusing to replace one.
        static func writeSecret(_ text: String, to path: String) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            let bytes = Array(text.utf8)
            guard fd >= 0, bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count, fsync(fd) == 0, close(fd) == 0 else {
                throw Runner.fail(TrialGateError(.fileUnwritable, "cannot write \(path): \(String(cString: strerror(errno)))"))
            }
        }

        /// A SHA-256 given as 64 hex digits or as a file holding them.
        static func digest(_ given: String) throws -> String {
            let text = FileManager.default.fileExists(atPath: given) ? try Runner.readFile(given) : given
            let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw Runner.fail(TrialGateError(.invalidField, "--signing-code-sha256 must be 64 lowercase hex digits or a file holding them (OUT.code.sha256 of `trialgate key new`)"))
            }
            return hex
        }

        /// A public key given as a PEM file or as base64 of the raw 32 bytes, as base64.
        static func publicKeyBase64(_ given: String) throws -> String {
            if FileManager.default.fileExists(atPath: given) {
                do { return Data(try TrialKey.publicKey(pem: try Runner.readFile(given))).base64EncodedString() } catch let e as TrialGateError {
                    throw Runner.fail(TrialGateError(.invalidField, "--public-key \(given): \(e.message)"))
                }
            }
            guard let raw = Data(base64Encoded: given), raw.count == 32 else {
                throw Runner.fail(TrialGateError(.invalidField, "--public-key must be a PEM file or base64 of a raw 32-byte Ed25519 key, got \"\(given)\""))
            }
            return raw.base64EncodedString()  // the one canonical spelling the log accepts
        }
    }
}
