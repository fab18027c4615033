import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

/// Digests of a deterministic large log: its stored bytes and checkpoints, and the replies of replay, verify and
/// report over it. Two builds that print the same lines store the same bytes, sign the same signatures and answer
/// the same replies for that log.
struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "SHA-256 digests of a deterministic log's stored rows and checkpoints and of replay, verify and report over it.",
        discussion: """
            The log is built as the large log of `run` and `merkle` is (batches of 1,000 commands, up to about \
            --events events), with a fixed clock, the fixed key and fixed dates, so the same code prints the same \
            lines every time.
            """
    )

    @OptionGroup var options: BenchOptions

    @Option(help: ArgumentHelp("Compare with the lines of this file (lines starting with # are skipped); exit 1 at the first that differs.",
                               valueName: "file"))
    var expect: String?

    /// The instant every event, checkpoint and reply is stamped with; its date is the scenario's today.
    static let instant = UTCTimestamp("2026-07-01T09:00:00.000Z")!

    func run() throws {
        let dir = try options.freshDirectory()
        defer { options.cleanUp() }
        let lines = try Self.identity(dir: dir, events: options.events)
        for line in lines { print(line) }
        if let expect { try Self.compare(lines, with: expect) }
    }

    /// Builds the log in `dir` and returns the lines to print.
    static func identity(dir: String, events: Int) throws -> [String] {
        let (d, store) = try freshDispatcher("identity", in: dir, clock: FixedClock(instant))
        _ = try buildLargeLog(d, store, workload: Workload(today: instant.date), events: events, counting: .storedEvents)
        let stored = try storedDigest(store)
        let reply = { (command: Command) in Digest.sha256Hex(CanonicalJSON.encode(try d.execute(command, actor: "bench"))) }
        return [
            "events \(try store.head().size)",
            "stored_sha256 \(stored)",
            "replay_sha256 \(try reply(.replay))",
            "verify_sha256 \(try reply(.verify()))",
            "report_sha256 \(try reply(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json")))",
        ]
    }

    /// SHA-256 over every stored row in order (its seq, hash and raw body bytes), then every checkpoint's size and
    /// signed note. Each field is written with its length, so no two different stores give the same input.
    static func storedDigest(_ store: EventStore) throws -> String {
        var bytes: [UInt8] = []
        func field(_ value: [UInt8]) {
            bytes += Array("\(value.count):".utf8)
            bytes += value
            bytes.append(0x0A)
        }
        try store.forEachRow { row in
            field(Array(String(row.seq).utf8))
            field(Array(row.hash.utf8))
            field(row.body)
        }
        for checkpoint in try store.checkpoints() {
            field(Array(String(checkpoint.size).utf8))
            field(Array(checkpoint.note.utf8))
        }
        return Digest.sha256Hex(bytes)
    }

    /// Compares `lines` with the lines of `path` that are neither empty nor comments.
    /// - Throws: `ExitCode(1)` after naming the first line that differs.
    static func compare(_ lines: [String], with path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let expected = text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        for i in 0..<max(lines.count, expected.count) {
            let want = i < expected.count ? expected[i] : "(no line)"
            let got = i < lines.count ? lines[i] : "(no line)"
            guard want == got else {
                FileHandle.standardError.write(Data("identity differs from \(path) at line \(i + 1) of the output: expected \"\(want)\", got \"\(got)\"\n".utf8))
                throw ExitCode(1)
            }
        }
        FileHandle.standardError.write(Data("identity matches \(path): \(lines.count) lines\n".utf8))
    }
}
