import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateModels
import TrialGatePolicies
import TrialGateService
import TrialGateStore

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a full screening of SANET-ep and SANET-p candidates on temporary stores: policy, candidates, decisions, verify, replay.")

    @Flag(name: .long, help: "Keep the temporary store and key, and print where they are.") var keep = false

    func run() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trialgate-demo-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
            try runDemo(in: dir, trial: .ep)
            print("")
            try runDemo(in: dir, trial: .p)
            print("")
            try runSubstudyDemo(in: dir)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw Runner.fail(TrialGateError(error))
        }
    }

    /// A new store in `dir` with a new key beside it, and a dispatcher on it, its trial initialised as `trialID`.
    private func newDemoStore(in dir: String, file: String, trialID: String, what: String)
        throws -> (store: EventStore, dispatcher: Dispatcher, key: TrialKey, storePath: String, keyPath: String) {
        let storePath = dir + "/" + file
        let keyPath = storePath + ".key"
        let key = TrialKey.generate()
        try key.write(to: keyPath)
        let store = try EventStore.create(path: storePath)
        let dispatcher = Dispatcher(store: store, clock: SystemClock(), key: { try TrialKey.load(path: keyPath) })
        print("TrialGate demo: \(trialID)\(what), a temporary store in \(storePath)")
        _ = try dispatcher.execute(.initialise(trialID: trialID, logOrigin: "trialgate.demo/\(trialID)"), actor: "demo:admin")
        return (store, dispatcher, key, storePath, keyPath)
    }

    private func runDemo(in dir: String, trial: DemoScenario.Trial) throws {
        let trialID = trial == .ep ? "SANET-EP-DEMO" : "SANET-P-DEMO"
        let (store, dispatcher, key, storePath, keyPath) = try newDemoStore(in: dir, file: "sanet-\(trial.rawValue).sqlite", trialID: trialID, what: "")
        defer { store.close() }
        let clock = SystemClock()
        let coordinator = "demo:site-coordinator"

        let published = try dispatcher.perform(.policyPublish(text: trial == .ep ? ShippedPolicies.sanetEP : ShippedPolicies.sanetP,
                                                              file: "Policies/sanet-\(trial.rawValue).yaml"), actor: "demo:admin").decode(WriteReceipt.self).policy
        print("Published policy \(published?.id ?? "") \(published?.version ?? "") (sha256 \(String(published?.sha256.prefix(16) ?? ""))…), signing key \(key.keyID)")
        print("")

        let scenario = DemoScenario(today: clock.now().date, trial: trial)
        let results = try scenario.run(dispatcher: dispatcher, actor: coordinator)
        let unexpected = printOutcomes(results)
        print("")
        try printHighlights(results, dispatcher: dispatcher, trial: trial, coordinator: coordinator)
        print("")
        let verify = try dispatcher.perform(.verify(), actor: coordinator).decode(VerifyReply.self)
        let replay = try dispatcher.perform(.replay, actor: coordinator).decode(ReplayReply.self)
        let counts = Dictionary(grouping: results.compactMap { $0.reply?.outcome }, by: { $0 }).mapValues(\.count)
        print("Outcomes: \(Outcome.allCases.map { "\($0.rawValue) \(counts[$0.rawValue] ?? 0)" }.joined(separator: ", ")), withdrawn \(results.filter { $0.reply == nil }.count)")
        print("verify: \(verify.valid ? "OK" : "FAILED"), \(verify.events) events, \(verify.signaturesChecked) signatures")
        print("replay: reproduced \(replay.reproduced), mismatched \(replay.mismatched)")
        if keep {
            print("")
            print("Kept: \(storePath) (key \(keyPath)). Try: trialgate show \(trial == .ep ? "NET-016" : "PNET-001") --store \(storePath)")
        }
        if !verify.valid || replay.mismatched != 0 || unexpected > 0 {
            FileHandle.standardError.write(Data("trialgate: demo: \(unexpected) unexpected outcome(s) or a failed check\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The radiomics sub-study: the shipped model registered, the policy whose gate TrialGate computes published, and
    /// three candidates whose CT features (of synthetic phantom lesions) are scored from the log.
    private func runSubstudyDemo(in dir: String) throws {
        let (store, dispatcher, _, storePath, keyPath) = try newDemoStore(in: dir, file: "radiomics-substudy.sqlite", trialID: "RADIOMICS-SUB-DEMO",
                                                                         what: ", the radiomics sub-study")
        defer { store.close() }
        let clock = SystemClock()
        let coordinator = "demo:site-coordinator"
        let card = try JSONParser.parse(ShippedModels.card)
        let registered = try dispatcher.perform(.modelRegister(card: card, artifact: ShippedModels.artifact, settings: ShippedModels.settings), actor: "demo:admin")
            .decode(WriteReceipt.self)
        print("Registered model net-radiomics-lr 1.0.0 as event \(registered.seq) (artifact sha256 \(String(card["artifact_sha256"]?.stringValue?.prefix(16) ?? ""))…; illustrative, trained on synthetic data)")
        let published = try dispatcher.perform(.policyPublish(text: ShippedPolicies.radiomicsSubstudyModelGate, file: "Policies/radiomics-substudy-2.yaml"),
                                               actor: "demo:admin").decode(WriteReceipt.self).policy
        print("Published policy \(published?.id ?? "") \(published?.version ?? ""): its model gate is computed by TrialGate from recorded CT features")
        print("")
        let lesions = try JSONParser.parse(ShippedModels.demoFeatures)["lesions"]?.arrayValue?.compactMap { $0["fields"] } ?? []
        let scenario = DemoScenario.substudy(today: clock.now().date, lesions: lesions, expected: [.eligible, .needsReview, .ineligible])
        let results = try scenario.run(dispatcher: dispatcher, actor: coordinator)
        let unexpected = printOutcomes(results)
        print("")
        let score = try dispatcher.perform(.modelScore(candidate: "RAD-001", model: "net-radiomics-lr", version: "1.0.0"), actor: coordinator)
            .decode(ModelScoreReply.self)
        print("RAD-001's score, recomputed from the features recorded in event \(score.featuresEvent ?? 0) with the registered artifact:")
        print("  linear predictor \(score.linearPredictor.map(CanonicalJSON.formatNumber) ?? "?") (probability \(score.probability.map { String(format: "%.3f", $0) } ?? "?"), for display); \(score.verdict): \(score.reason)")
        let verify = try dispatcher.perform(.verify(), actor: coordinator).decode(VerifyReply.self)
        let replay = try dispatcher.perform(.replay, actor: coordinator).decode(ReplayReply.self)
        print("verify: \(verify.valid ? "OK" : "FAILED"), \(verify.events) events; replay: reproduced \(replay.reproduced), mismatched \(replay.mismatched) (every model score recomputed)")
        if keep {
            print("")
            print("Kept: \(storePath) (key \(keyPath)). Try: trialgate model score --candidate RAD-002 --model net-radiomics-lr --store \(storePath)")
        }
        if !verify.valid || replay.mismatched != 0 || unexpected > 0 {
            FileHandle.standardError.write(Data("trialgate: demo: \(unexpected) unexpected outcome(s) or a failed check in the sub-study\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Prints each candidate's outcome, the criteria that decided it and its story; returns how many outcomes were
    /// not the expected ones.
    private func printOutcomes(_ results: [DemoScenario.Result]) -> Int {
        print("\(Render.pad("candidate", 10)) \(Render.pad("site", 8)) \(Render.pad("outcome", 13)) \(Render.pad("event", 6)) \(Render.pad("why", 44)) story")
        var unexpected = 0
        for r in results {
            let outcome = r.reply?.outcome ?? "withdrawn"
            if outcome != (r.candidate.expected?.rawValue ?? "withdrawn") { unexpected += 1 }
            let why = (r.reply?.decision.criteria ?? []).filter { ["fail", "unknown", "needs_attestation"].contains($0.result) }
                .map { c in (c.result == "fail" ? "✗ " : "? ") + c.id + (c.result == "needs_attestation" ? " (attestation)" : "") }
                .joined(separator: " ")
            let site = r.candidate.steps.first.flatMap { step -> String? in
                if case .command(.register(_, let f)) = step { return f["site"]?.stringValue } else { return nil }
            } ?? ""
            let seq = r.reply.map { String($0.seq) } ?? "-"
            print("\(Render.pad(r.candidate.id, 10)) \(Render.pad(site, 8)) \(Render.pad(outcome, 13)) \(Render.pad(seq, 6)) \(Render.pad(r.reply == nil ? "no decision" : (why.isEmpty ? "all criteria pass" : why), 44)) \(r.candidate.story)")
        }
        return unexpected
    }

    /// Prints one decision in full, a superseded fact, the confirmed counts and open queries of the report, and a
    /// decision made stale.
    private func printHighlights(_ results: [DemoScenario.Result], dispatcher: Dispatcher, trial: DemoScenario.Trial, coordinator: String) throws {
        if let sample = results.first(where: { $0.candidate.id == "NET-015" })?.reply {
            print("One decision in full (a lung NET graded by the thoracic rule):")
            print(Render.decision(sample))
            print("")
        }
        if trial == .ep, let first = try dispatcher.perform(.show(candidate: "NET-016", asOfSeq: nil, asOfTime: nil), actor: coordinator)
            .decode(CandidateReply.self).superseded.first(where: { $0.fact == "ki67.percent" }) {
            print("NET-016: \(first.fact) \(CanonicalJSON.string(first.value)) (event \(first.seq)) is superseded: \(first.why)")
            print("")
        }
        let report = try dispatcher.perform(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"), actor: coordinator)
            .decode(ReportReply.self)
        let consort = report.consort
        print("Investigators confirmed \(consort.confirmed.eligible) eligible and \(consort.confirmed.ineligible) ineligible (signed, current decisions); \(consort.stale) stale, \(consort.awaitingSignoff) awaiting sign-off.")
        print("Open review queries: \(report.sites.reduce(0) { $0 + $1.queries.open }) (see `trialgate queries --open`).")
        if trial == .ep, let stale = report.screeningLog.first(where: { $0.candidate == "NET-017" }), let cause = stale.staleCauses.first {
            print("NET-017 was decided \(stale.proposed ?? ""), then event \(cause.seq) (\(cause.detail)) made the decision stale: it counts as no outcome until decided again and signed off.")
        }
    }
}
