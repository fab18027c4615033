import ArgumentParser
import Foundation
import TrialGateCore
import TrialGateService
import TrialGateStore

/// The log's head and the store under it: the engine, a replica's lag behind its primary, the node holding the
/// writer lease. The `head` request's reply, printed for people.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the log's head and the store: engine, a replica's lag behind its primary, and which node writes.",
        discussion: """
            On a PostgreSQL replica (a hot standby), the lag is how long ago the newest commit visible there was made on the \
            primary while WAL is still being applied, 0 when everything received is applied; a replica that is not \
            streaming says so and exits 1, since its lag cannot be known. Over a server (--connect), the node's own store \
            is shown. docs/operations.md has what each figure means.
            Example: trialgate status --store 'postgres://tg_reader@replica.example/trialgate?trial=sanet' --max-lag-ms 5000
            """)

    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "Ask a server instead: HOST:PORT or unix:PATH (with --token / $TRIALGATE_TOKEN).") var connect: String?
    @Option(name: .long, help: "Bearer token for --connect (default: $TRIALGATE_TOKEN).") var token: String?
    @Option(name: .long, help: "Use TLS and trust this PEM CA for the server's certificate.") var tlsCa: String?
    @Option(name: .long, help: "Use TLS and require the server's leaf certificate to have this SHA-256.") var tlsPin: String?
    @Option(name: .long, help: "Exit 1 when a replica's lag is above this many milliseconds, or unknown (for monitoring).") var maxLagMs: Int64?

    func run() throws {
        let reply: Reply
        if let connect {
            let client = try ClientOptions.parse(["--connect", connect] + (token.map { ["--token", $0] } ?? [])
                                                 + (tlsCa.map { ["--tls-ca", $0] } ?? []) + (tlsPin.map { ["--tls-pin", $0] } ?? [])).open()
            reply = .received(try ClientOptions.call(client, ["cmd": "head"]))
        } else {
            reply = try Runner.perform(.head, options: options)
        }
        let head = try Runner.typed(reply, as: HeadReply.self, command: .head)
        if options.json {
            Runner.printJSON(head)
        } else {
            print("Log: \(head.size) events, head \(head.head)" + (head.trial?.trialID.map { ", trial \($0)" } ?? ""))
            if let store = head.store { print("Store: " + store.summary) }
        }
        if let problem = head.store?.lagProblem(limit: maxLagMs) {
            FileHandle.standardError.write(Data("trialgate: \(problem)\n".utf8))
            throw ExitCode(1)
        }
    }
}
