import Foundation
import TrialGateAudit
import TrialGateCore

/// A dozen synthetic candidates that between them reach every outcome, with a correction and a
/// withdrawal: the data behind `trialgate demo`, also used by tests and benchmarks.
///
/// All dates are relative to `today`, so the scenario stays valid whenever it runs.
public struct DemoScenario: Sendable {
    /// One step of a candidate's story.
    public enum Step: Sendable {
        case command(Command)
        /// Corrects a field of the candidate's latest record of `kind`, whose sequence number is known only when run.
        case correctLatest(kind: String, field: String, value: JSONValue, reason: String)
        /// The site's investigator attests a criterion (pass), signed with their key.
        case attest(criterion: String, attestedOn: JSONValue)
        /// The site's investigator confirms the candidate's newest decision, signed with their key.
        case confirm
    }

    /// A demo investigator: their account, key and signing code.
    public struct Investigator: Sendable {
        public let name: String
        public let key: TrialKey
        public let signingCode: String
    }

    /// The investigator of `site` (one per site, with a fixed key so the demo's statements are reproducible).
    public static func investigator(of site: String) -> Investigator {
        let name = "investigator-" + site.lowercased()
        let seed = Array(Digest.sha256Hex("demo investigator key of \(site)").utf8.prefix(32))
        return Investigator(name: name, key: try! TrialKey(seed: seed), signingCode: Digest.sha256Hex("demo signing code of \(site)"))
    }

    /// The sites the candidates are screened at.
    public var sites: [String] {
        Array(Set(candidates.compactMap { c in c.steps.first.flatMap { step -> String? in
            if case .command(.register(_, let f)) = step { return f["site"]?.stringValue } else { return nil }
        } })).sorted()
    }

    /// Adds each site's investigator account that is not there yet (by `admin`), with their printed name, key and
    /// signing code.
    public func addInvestigators(dispatcher: Dispatcher, admin: String) throws {
        let existing = Set(try dispatcher.perform(.users, actor: admin).decode(UsersReply.self).users.map(\.name))
        for site in sites {
            let i = Self.investigator(of: site)
            if existing.contains(i.name) { continue }
            _ = try dispatcher.execute(.userAdd(name: i.name, role: Role.investigator.rawValue, sites: [site],
                                                tokenSHA256: Digest.sha256Hex("demo token of \(site)"), expiresAt: nil,
                                                signer: SignerRegistration(printedName: "Dr \(site) Investigator", publicKey: Data(i.key.publicKey).base64EncodedString(),
                                                                           signingSHA256: Digest.sha256Hex(i.signingCode))), actor: admin)
        }
    }

    /// One candidate: its steps in order and the outcome its decision should get (nil: withdrawn, no decision).
    public struct Candidate: Sendable {
        public let id: String
        public let story: String
        public let steps: [Step]
        public let expected: Outcome?
    }

    /// What running one candidate gave.
    public struct Result: Sendable {
        public let candidate: Candidate
        /// The decision's reply, if one was issued.
        public let reply: DecisionReply?
        /// The decision's reply as the wire carries it, if one was issued.
        public var decision: JSONValue? { reply?.json }
    }

    /// Runs every step through `dispatcher` as `actor`.
    /// Runs every step through `dispatcher` as `actor`; attestations and sign-offs are signed by the site's
    /// investigator, whose account `admin` adds first when it is not there.
    public func run(dispatcher: Dispatcher, actor: String, admin: String = "demo:admin") throws -> [Result] {
        try addInvestigators(dispatcher: dispatcher, admin: admin)
        return try candidates.map { c in
            var latest: [String: Int64] = [:]
            var decision: DecisionReply?
            var site = ""
            for step in c.steps {
                switch step {
                case .command(let command):
                    let reply = try dispatcher.perform(command, actor: actor)
                    if case .register(_, let f) = command { site = f["site"]?.stringValue ?? "" }
                    if case .record(let kind, _, _) = command, case .written(let receipt) = reply { latest[kind] = receipt.seq }
                    if case .decide = command { decision = try reply.decode(DecisionReply.self) }
                case .correctLatest(let kind, let field, let value, let reason):
                    guard let seq = latest[kind] else { throw TrialGateError(.internal, "demo: no \(kind) record to correct") }
                    _ = try dispatcher.execute(.correct(seq: seq, field: field, value: value, reason: reason), actor: actor)
                case .attest(let criterion, let on):
                    let i = Self.investigator(of: site)
                    let statement = try dispatcher.perform(.attestPrepare(candidate: c.id, fields: ["criterion": .string(criterion), "result": "pass", "attested_on": on,
                                                                                                     "statement": "checked against the source documents"], user: i.name), actor: i.name)
                        .decode(AttestPrepareReply.self).statement
                    _ = try dispatcher.execute(.attest(statement: statement, signature: Data(i.key.sign(CanonicalJSON.encode(statement))).base64EncodedString(),
                                                       user: i.name, signingCode: i.signingCode), actor: i.name)
                case .confirm:
                    guard let decision else { continue }
                    let i = Self.investigator(of: site)
                    let statement = try dispatcher.perform(.signOffPrepare(decision: decision.seq, outcome: decision.outcome, reason: nil, user: i.name), actor: i.name)
                        .decode(SignOffPrepareReply.self).statement
                    _ = try dispatcher.execute(.signOff(statement: statement, signature: Data(i.key.sign(CanonicalJSON.encode(statement))).base64EncodedString(),
                                                        user: i.name, signingCode: i.signingCode), actor: i.name)
                }
            }
            return Result(candidate: c, reply: decision)
        }
    }

    public let candidates: [Candidate]

    init(candidates: [Candidate]) { self.candidates = candidates }

    /// The scenario with only the candidates `ids` names.
    public func only(_ ids: [String]) -> DemoScenario { DemoScenario(candidates: candidates.filter { ids.contains($0.id) }) }

    /// Which trial's candidates: SANET-ep (extrapancreatic, the default) or SANET-p (pancreatic).
    public enum Trial: String, Sendable { case ep, p }

    public init(today: CivilDate, trial: Trial = .ep) {
        let records = DemoRecords(today: today, trial: trial)
        candidates = trial == .p ? records.pancreaticCandidates : records.extrapancreaticCandidates
    }
}
