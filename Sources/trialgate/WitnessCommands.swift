import ArgumentParser
import Foundation
import Logging
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore
import TrialGateWitness
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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
                    let (url, key) = try WitnessGroup.target(w)
                    let outcome = try WitnessSubmission.submit(store: store, key: key, transport: { try WitnessGroup.post(url: url, body: $0) },
                                                               now: SystemClock().now())
                    print("\(key.name): cosigned size \(outcome.size) (proof from \(outcome.oldSize))")
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
            var rows: [JSONValue] = []
            for (name, size) in try store.cosignedSizes().sorted(by: { $0.key < $1.key }) {
                let received = try store.cosignatures(size: size).first { $0.witness == name }?.receivedAt ?? ""
                rows.append(["witness": .string(name), "cosigned_size": .number(Double(size)), "lag": .number(Double(newest - size)),
                             "received_at": .string(received)])
            }
            if options.json { return Runner.printJSON(["newest_checkpoint": .number(Double(newest)), "witnesses": .array(rows)]) }
            if rows.isEmpty { return print("No witness has cosigned a checkpoint of this store (newest checkpoint: size \(newest)).") }
            print("Newest checkpoint: size \(newest).")
            for r in rows {
                print("  \(Render.pad(r["witness"]?.stringValue ?? "", 32)) cosigned size \(r["cosigned_size"]?.intValue ?? 0), \(r["lag"]?.intValue ?? 0) behind, at \(r["received_at"]?.stringValue ?? "")")
            }
        }
    }

    /// `URL=VKEY` as its parts.
    static func target(_ text: String) throws -> (URL, CosignerKey) {
        guard let eq = text.firstIndex(of: "="), let url = URL(string: String(text[..<eq]) + "/add-checkpoint"), url.scheme == "http" || url.scheme == "https" else {
            throw TrialGateError(.badRequest, "a witness is URL=VKEY (http://host:port=name+id+key), got \(text.prefix(80))")
        }
        return (url, try CosignerKey(vkey: String(text[text.index(after: eq)...])))
    }

    /// POSTs `body` and answers the status and body (10 s timeout).
    static func post(url: URL, body: String) throws -> (status: Int, body: String) {
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<(Int, String), Error> = .failure(TrialGateError(.connectFailed, "no answer from \(url)"))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { result = .failure(TrialGateError(.connectFailed, "\(url): \(error.localizedDescription)")) }
            else { result = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))) }
            done.signal()
        }.resume()
        done.wait()
        return try result.get()
    }
}
