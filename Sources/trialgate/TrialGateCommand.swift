import ArgumentParser
import TrialGateStore

/// The program's entry: `record KIND --help` lists that kind's fields before the usual help, which the argument
/// parser cannot vary with an argument's value; everything else is `TrialGateCommand`.
@main
enum Entry {
    static func main() async {
        if let help = Record.fieldsHelp(arguments: Array(CommandLine.arguments.dropFirst())) {
            print(help)
            return
        }
        await TrialGateCommand.main()
    }
}

struct TrialGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trialgate",
        abstract: "Event-sourced clinical-trial screening with signed, explained decisions.",
        discussion: """
            Every fact about a candidate is an attributed, time-stamped event in an append-only, hash-chained log.
            Enrollment policies turn those events into Ed25519-signed decisions that anyone can verify and replay.
            Try `trialgate demo`.
            """,
        version: BuildVersion.text,
        subcommands: [
            Demo.self, Init.self, PolicyGroup.self, CandidateGroup.self, Record.self, ImportCommand.self, ModelGroup.self, Correct.self, Withdraw.self, Decide.self,
            Show.self, Decisions.self, SignOffCommand.self, AttestCommand.self, Queries.self, QueryGroup.self, Report.self, Verify.self, Replay.self, Export.self, CheckpointCommand.self, ProofGroup.self, Exec.self, KeyGroup.self, DecisionGroup.self, Serve.self, Status.self, Trials.self, Migrate.self, UsersGroup.self, Client.self, WitnessGroup.self,
        ]
    )
}

/// Options every store command shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store: an SQLite file, or a trial on PostgreSQL as postgres://USER@HOST[:PORT]/DATABASE?trial=NAME (docs/operations.md) (default: $TRIALGATE_STORE or ./trialgate.sqlite).")
    var store: String?

    @Option(name: .long, help: "The trial's Ed25519 key in force, PKCS#8 PEM (default: $TRIALGATE_KEY, or STORE.key; ./NAME.key for a PostgreSQL trial NAME).")
    var key: String?

    @Option(name: .long, help: "Who is acting (default: $TRIALGATE_ACTOR or os:<login name>).")
    var actor: String?

    @Flag(name: .long, help: "Print the result as JSON instead of text.")
    var json = false

    @Flag(name: .long, help: "No progress line on stderr during long work (it is shown only on a terminal anyway).")
    var quiet = false

    var storePath: String { store ?? Environment.get("TRIALGATE_STORE") ?? "trialgate.sqlite" }
    var keyPath: String { key ?? Environment.get("TRIALGATE_KEY") ?? besideStore(".key") }

    /// A file that goes with the store: beside an SQLite file, or named after a PostgreSQL trial in the working directory.
    func besideStore(_ suffix: String) -> String {
        if PostgresLocation.names(storePath) {
            return ((try? PostgresLocation(storePath))?.trial ?? "trialgate") + suffix
        }
        return storePath + suffix
    }
    var actorName: String { actor ?? Environment.get("TRIALGATE_ACTOR") ?? Environment.osActor }
}
