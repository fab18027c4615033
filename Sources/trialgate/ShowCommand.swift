import ArgumentParser
import TrialGateService

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A candidate's full history, corrections and current facts.")
    @OptionGroup var options: StoreOptions
    @Argument(help: "The candidate id.") var candidate: String
    @Option(name: .long, help: "Show the state as of a sequence number or a UTC time (2026-01-31T12:00:00Z).") var asOf: String?

    func run() throws {
        let (seq, time) = try Runner.asOf(asOf)
        let result = try Runner.view(.show(candidate: candidate, asOfSeq: seq, asOfTime: time), as: CandidateReply.self, options: options)
        if options.json { return Runner.printJSON(result) }
        print(Render.candidate(result))
    }
}
