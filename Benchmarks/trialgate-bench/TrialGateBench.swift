// Benchmarks for docs/performance.md. Run: swift run -c release trialgate-bench [run] [--dir DIR] [--events N]
// Tamper evidence: swift run -c release trialgate-bench merkle --events 1000000
//
// Durable-commit cost swings with the disk's other tenants, so every durable figure is measured next to
// this machine's own cost of one durable SQLite commit, taken in the same run, and reported as a ratio.
import ArgumentParser
import Foundation

@main
struct TrialGateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trialgate-bench",
        abstract: "TrialGate's benchmarks: the figures of docs/performance.md.",
        discussion: """
            Without a subcommand, `run` measures durable, batched and decision appends next to this machine's raw \
            commit cost, then builds a large log and verifies it.
            """,
        subcommands: [
            RunCommand.self, FsyncCommand.self, LoadCommand.self, ReportCommand.self, MerkleCommand.self,
            StagesCommand.self, IdentityCommand.self,
        ],
        defaultSubcommand: RunCommand.self
    )
}

/// Options every benchmark that builds its own stores shares.
struct BenchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Where the benchmark's stores go (default: .bench-tmp in the current directory).", valueName: "dir"))
    var dir: String?

    @Option(help: "The large log's size: `run` counts commands (about 1.5 events each), `merkle` and `identity` count events.")
    var events = 100_000

    @Flag(help: "Keep the directory and its stores afterwards (e.g. to run trialgate verify under perf).")
    var keep = false

    /// The directory, as an absolute path when the default.
    var directory: String { dir ?? FileManager.default.currentDirectoryPath + "/.bench-tmp" }

    /// Empties the directory (creating it if need be) and returns its path.
    func freshDirectory() throws -> String {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Removes the directory, unless `--keep`.
    func cleanUp() {
        if !keep { try? FileManager.default.removeItem(atPath: directory) }
    }
}
