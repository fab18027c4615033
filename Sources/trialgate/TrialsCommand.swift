import ArgumentParser
import TrialGateCore
import TrialGateStore

/// The trials one PostgreSQL database holds.
struct Trials: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the trials in a PostgreSQL database: each one's log size, head and newest checkpoint.",
        discussion: "--store names the database (postgres://USER@HOST[:PORT]/DATABASE; a ?trial= part is ignored). Each trial is a schema of its own with its own key, policies, checkpoints and users.")

    @OptionGroup var options: StoreOptions

    func run() throws {
        do {
            let place = try PostgresLocation(options.storePath, trialOptional: true)
            var rows: [[String: JSONValue]] = []
            for trial in try PostgresLogDatabase.trials(place) {
                let store = try EventStore.open(path: try place.with(trial: trial).description)
                defer { store.close() }
                let head = try store.head()
                let checkpoint = try store.latestCheckpoint()
                rows.append(["trial": .string(trial), "size": .number(Double(head.size)), "head": .string(head.hash),
                             "checkpoint_size": checkpoint.map { .number(Double($0.size)) } ?? .null,
                             "checkpoint_issued_at": checkpoint.map { .string($0.issuedAt) } ?? .null])
            }
            if options.json {
                print(CanonicalJSON.string(.array(rows.map { .object($0) })))
                return
            }
            if rows.isEmpty { print("No trials in \(place.databaseDescription).") }
            for r in rows {
                print("\(r["trial"]!.stringValue!)\t\(Int(r["size"]!.numberValue!)) events\thead \(r["head"]!.stringValue!.prefix(16))…\t"
                      + (r["checkpoint_issued_at"]?.stringValue.map { "checkpoint of \(Int(r["checkpoint_size"]!.numberValue!)) at \($0)" } ?? "no checkpoint"))
            }
        } catch {
            throw Runner.fail(TrialGateError(error))
        }
    }
}
