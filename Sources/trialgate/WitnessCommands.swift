import ArgumentParser
import Foundation
import Logging
import TrialGateServer
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore
import TrialGateWitness

struct WitnessGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness", abstract: "Run a witness of other logs' checkpoints (C2SP tlog-witness): its own key and state, no trial's store.",
        discussion: "docs/transparency-log.md, \"Witness cosignatures\".",
        subcommands: [Init.self, AddLog.self, VKey.self, Serve.self, Submit.self, Status.self])

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
                let origin = try Witness.addLog(dir: folder.dir, vkey: try Runner.inlineOrFile(vkey))
                print("Witnessing \(origin).")
            } catch let e as ExitCode { throw e } catch { throw Runner.fail(TrialGateError(error)) }
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
        @Option(name: .long, help: "HOST:PORT to listen on (loopback unless TLS is configured).") var listen: String
        @Option(name: .long, help: "TLS certificate chain, PEM.") var tlsCert: String?
        @Option(name: .long, help: "TLS private key, PEM.") var tlsKey: String?
        @Flag(name: .long, help: "Allow plain HTTP on an address reachable beyond this machine.") var insecurePlaintext = false

        func run() throws {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
                throw Runner.fail(TrialGateError(.badRequest, "--listen takes HOST:PORT, got \(listen)"))
            }
            var host = String(listen[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            do {
                // As for `serve`: TLS with the same versions and suites, and plain HTTP only on loopback unless asked.
                let tls = try TLSPolicy.serverContext(certificatePath: tlsCert, keyPath: tlsKey)
                _ = try TLSPolicy.listenAddress(host: host, port: port, shownAs: listen, encrypted: tls != nil, allowPlaintext: insecurePlaintext,
                                                what: "plain HTTP")
                // Held while serving: no other process changes this witness's state meanwhile.
                let lock = try WitnessState.FolderLock(dir: folder.dir, purpose: "serve it again")
                defer { withExtendedLifetime(lock) {} }
                let server = WitnessServer(witness: try Witness(dir: folder.dir), logger: Logger(label: "trialgate.witness"))
                let bound = try server.start(host: host, port: port, tls: tls)
                FileHandle.standardError.write(Data("trialgate witness: serving add-checkpoint on \(bound)\(tls == nil ? "" : " (TLS)")\n".utf8))
                try server.wait()
            } catch { throw Runner.fail(TrialGateError(error)) }
        }
    }
}

extension WitnessGroup {
    /// The log's side: submit the newest checkpoint to witnesses, keep their cosignatures, and show where each stands.
    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit the store's newest checkpoint to witnesses (with consistency proofs from what each last cosigned) and keep their cosignatures.")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "A witness as URL=VKEY: its add-checkpoint prefix (http://host:port) and cosigner vkey; repeat for several.") var witness: [String]

        func run() throws {
            guard !witness.isEmpty else { throw Runner.fail(TrialGateError(.badRequest, "give at least one --witness URL=VKEY")) }
            let store = try Runner.openStore(options)
            defer { store.close() }
            var failed = 0
            for w in witness {
                do {
                    let target = try WitnessTarget(w)
                    let outcome = try Runner.submit(to: target, store: store, timeout: 10)
                    print("\(target.key.name): cosigned size \(outcome.size) (proof from \(outcome.oldSize))")
                } catch {
                    failed += 1
                    FileHandle.standardError.write(Data("trialgate: \(w.split(separator: "=").first ?? ""): \(TrialGateError(error).code.rawValue): \(TrialGateError(error).message)\n".utf8))
                }
            }
            if failed > 0 { throw ExitCode(2) }
        }
    }

    /// Each witness's last cosigned size, as the store keeps its cosignatures, and how far it lags the newest checkpoint.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show each witness's last cosigned checkpoint and its lag behind the store's newest.")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let store = try Runner.openStore(options)
            defer { store.close() }
            let newest = try store.latestCheckpoint()?.size ?? 0
            let cosigned = try store.cosignedSizes()
            // The newest refusal of each witness, when it came after its newest cosignature.
            var newestCosignature: [String: String] = [:]
            for (name, size) in cosigned {
                newestCosignature[name] = try store.cosignatures(size: size).first { $0.witness == name }?.receivedAt
            }
            var refusals: [String: EventStore.StoredWitnessRefusal] = [:]
            for r in try store.witnessRefusals() where r.receivedAt > (newestCosignature[r.witness] ?? "") { refusals[r.witness] = r }
            var rows: [JSONValue] = []
            for name in Set(cosigned.keys).union(refusals.keys).sorted() {
                let size = cosigned[name] ?? 0
                var row: [String: JSONValue] = ["witness": .string(name), "cosigned_size": .number(Double(size)), "lag": .number(Double(newest - size))]
                if let received = try store.cosignatures(size: size).first(where: { $0.witness == name })?.receivedAt { row["received_at"] = .string(received) }
                if let r = refusals[name] {
                    row["refused"] = ["size": .number(Double(r.size)), "status": .number(Double(r.status)), "answer": .string(r.answer), "received_at": .string(r.receivedAt)]
                }
                rows.append(.object(row))
            }
            if options.json { return Runner.printJSON(["newest_checkpoint": .number(Double(newest)), "witnesses": .array(rows)]) }
            if rows.isEmpty { return print("No witness has cosigned a checkpoint of this store (newest checkpoint: size \(newest)).") }
            print("Newest checkpoint: size \(newest).")
            for r in rows {
                let at = r["received_at"]?.stringValue.map { ", at \($0)" } ?? ""
                print("  \(Render.pad(r["witness"]?.stringValue ?? "", 32)) cosigned size \(r["cosigned_size"]?.intValue ?? 0), \(r["lag"]?.intValue ?? 0) behind\(at)")
                if let refused = r["refused"] {
                    let answer = WitnessSubmission.shown(refused["answer"]?.stringValue ?? "", 200)
                    print("    REFUSED size \(refused["size"]?.intValue ?? 0) with HTTP \(refused["status"]?.intValue ?? 0) at \(refused["received_at"]?.stringValue ?? ""): \(answer)")
                }
            }
        }
    }
}
