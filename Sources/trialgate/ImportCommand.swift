import ArgumentParser
import Foundation
import TrialGateCore
import TrialGateServer
import TrialGateService

/// `trialgate import FILE.csv`: registrations and records from a spreadsheet, all or nothing (docs/import.md).
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a CSV file of registrations and records: every problem listed by row and column, then all rows or none.",
        discussion: """
            One row per record: a kind column (register, \(ImportKind.all.keys.filter { $0 != ImportKind.registration }.sorted().joined(separator: ", "))), \
            candidate, site, and the kind's fields as `trialgate record KIND --help` lists them, values as `record` takes them \
            (anc="2 10*9/L"). UTF-8 (a BOM is skipped), RFC 4180 quoting; the header is row 1. docs/import.md has the layout.
            Example: trialgate import site-01.csv --dry-run && trialgate import site-01.csv
            """)

    @OptionGroup var options: StoreOptions
    @Argument(help: "The CSV file.") var file: String
    @Flag(name: .long, help: "Only check the file: list every problem, write nothing.") var dryRun = false
    @Option(name: .long, help: "The one site every row's candidate must belong to (a row for another site's candidate is refused).") var site: String?
    @Option(name: .long, help: "Import over a server: HOST:PORT or unix:PATH (with --token / $TRIALGATE_TOKEN); the file travels in the request.")
    var connect: String?
    @Option(name: .long, help: "Bearer token for --connect (default: $TRIALGATE_TOKEN).") var token: String?
    @Option(name: .long, help: "Use TLS and trust this PEM CA for the server's certificate.") var tlsCa: String?
    @Option(name: .long, help: "Use TLS and require the server's leaf certificate to have this SHA-256.") var tlsPin: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw Runner.fail(TrialGateError(.fileUnreadable, "cannot read \(file)"))
        }
        let name = URL(fileURLWithPath: file).lastPathComponent
        let command = Command.importRecords(file: name, content: [UInt8](data), site: site, dryRun: dryRun)
        let reply: Reply
        if let connect {
            let client = try ClientOptions.parse(["--connect", connect] + (token.map { ["--token", $0] } ?? [])
                                                 + (tlsCa.map { ["--tls-ca", $0] } ?? []) + (tlsPin.map { ["--tls-pin", $0] } ?? [])).open()
            reply = .received(try ClientOptions.call(client, Self.request(command)))
        } else {
            reply = try Runner.perform(command, options: options)
        }
        let result = try Runner.typed(reply, as: ImportReply.self, command: command)
        if options.json {
            Runner.printJSON(result)
        } else {
            print(Self.render(result))
        }
        if !result.problems.isEmpty { throw ExitCode(1) }
    }

    /// The protocol request of an import: the file's bytes in base64.
    static func request(_ command: Command) -> JSONValue {
        guard case .importRecords(let file, let content, let site, let dryRun) = command else { return [:] }
        var o: [String: JSONValue] = ["cmd": "import", "file": .string(file), "content_base64": .string(Data(content).base64EncodedString()),
                                      "dry_run": .bool(dryRun)]
        if let site { o["site"] = .string(site) }
        return .object(o)
    }

    static func render(_ r: ImportReply) -> String {
        let kinds = r.kinds.keys.sorted().map { "\($0) \(ProgressLine.grouped(Int64(r.kinds[$0]!)))" }.joined(separator: ", ")
        var lines = r.problems.map(\.line)
        let rows = "\(ProgressLine.grouped(Int64(r.rows))) row\(r.rows == 1 ? "" : "s")\(kinds.isEmpty ? "" : " (\(kinds))")"
        if !r.problems.isEmpty {
            lines.append("\(r.file): \(rows); \(r.problems.count) problem\(r.problems.count == 1 ? "" : "s"); nothing was written.")
        } else if r.written, let first = r.firstSeq, let last = r.lastSeq, let seq = r.seq {
            lines.append("Imported \(r.file): \(rows) as events \(first)–\(last); the file (sha256 \(r.sha256)) is recorded as event \(seq).")
        } else {
            lines.append("\(r.file): \(rows) checked, no problems (sha256 \(r.sha256)); nothing was written (dry run).")
        }
        return lines.joined(separator: "\n")
    }
}
