import ArgumentParser
import Foundation
import Logging
import TrialGateAudit
import TrialGateCore
import TrialGateWitness

struct WitnessGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness", abstract: "Run a witness of other logs' checkpoints (C2SP tlog-witness): its own key and state, no trial's store.",
        discussion: "docs/transparency-log.md, \"Witness cosignatures\".",
        subcommands: [Init.self, AddLog.self, VKey.self, Serve.self])

    struct DirOption: ParsableArguments {
        @Option(name: .long, help: "The witness's folder: its key (witness.key) and state (witness.json).") var dir: String
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a witness: a new Ed25519 key (mode 0600) and an empty state.")
        @OptionGroup var folder: DirOption
        @Option(name: .long, help: "The witness's name, a schema-less URL such as witness.example/w1.") var name: String

        func run() throws {
            do {
                let key = try Witness.initialise(dir: folder.dir, name: name)
                print("Witness \(name) in \(folder.dir). Its cosigner vkey, for the logs and verifiers that trust it:")
                print(key.vkey)
            } catch { throw Runner.fail(TrialGateError(error)) }
        }
    }

    struct AddLog: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-log", abstract: "Witness a log: its checkpoint key's vkey (`trialgate key vkey` on the log's side).")
        @OptionGroup var folder: DirOption
        @Option(name: .long, help: "The log's signed-note verifier key; its name is the log's origin.") var vkey: String

        func run() throws {
            do {
                let origin = try Witness.addLog(dir: folder.dir, vkey: try Self.vkeyText(vkey))
                print("Witnessing \(origin).")
            } catch let e as ExitCode { throw e } catch { throw Runner.fail(TrialGateError(error)) }
        }

        /// A vkey given inline, or the path of a file holding one.
        static func vkeyText(_ value: String) throws -> String {
            FileManager.default.fileExists(atPath: value) ? try Runner.readFile(value) : value
        }
    }

    struct VKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "vkey", abstract: "Print the witness's cosigner vkey.")
        @OptionGroup var folder: DirOption

        func run() throws {
            do { print(try Witness(dir: folder.dir).cosignerKey.vkey) } catch { throw Runner.fail(TrialGateError(error)) }
        }
    }

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve POST /add-checkpoint over HTTP until stopped.")
        @OptionGroup var folder: DirOption
        @Option(name: .long, help: "HOST:PORT to listen on.") var listen: String

        func run() throws {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
                throw Runner.fail(TrialGateError(.badRequest, "--listen takes HOST:PORT, got \(listen)"))
            }
            do {
                let server = WitnessServer(witness: try Witness(dir: folder.dir), logger: Logger(label: "trialgate.witness"))
                let address = try server.start(host: String(listen[..<colon]), port: port)
                FileHandle.standardError.write(Data("trialgate witness: serving add-checkpoint on \(address)\n".utf8))
                try server.wait()
            } catch { throw Runner.fail(TrialGateError(error)) }
        }
    }
}
