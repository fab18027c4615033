/// A screening decision: the outcome, every criterion's result and the context needed to re-derive it.
///
/// Its RFC 8785 bytes are what is signed. 21 CFR 11.50 asks a signed record to show who signed, when,
/// and what the signature means: `decided_by`, `decided_at` and `meaning`.
public struct Decision: Sendable, Equatable {
    /// The format name written into every decision.
    public static let format = "trialgate.decision/1"

    public let candidate: String
    public let site: String
    public let outcome: Outcome
    public let criteria: [CriterionResult]
    public let policyID: String
    public let policyVersion: String
    public let policySHA256: String
    /// The number of log events the decision was made on; the decision itself is event `logSize + 1`.
    public let logSize: Int64
    /// Hash of event `logSize`.
    public let logHead: String
    public let decidedAt: UTCTimestamp
    public let decidedBy: String
    public let keyID: String

    /// What the signature means, in words.
    public var meaning: String {
        "TrialGate attests that candidate \(candidate) was screened \(outcome.rawValue) under policy \(policyID) version \(policyVersion) on the first \(logSize) log events, at the request of \(decidedBy)."
    }

    /// Evaluates `policy` on `candidate` and records the context of the decision.
    /// - Parameter models: the registered models and the candidate's features, for the policy's model gates.
    public init(candidate: CandidateState, policy: Policy, models: ModelEvidence = .none, policySHA256: String, logSize: Int64, logHead: String,
                decidedAt: UTCTimestamp, decidedBy: String, keyID: String) {
        let evaluation = PolicyEvaluator.evaluate(policy, facts: candidate.facts(model: policy.clinicalModel), models: models, on: decidedAt.date)
        self.candidate = candidate.id
        self.site = candidate.site
        self.outcome = evaluation.outcome
        self.criteria = evaluation.criteria
        self.policyID = policy.id
        self.policyVersion = policy.version
        self.policySHA256 = policySHA256
        self.logSize = logSize
        self.logHead = logHead
        self.decidedAt = decidedAt
        self.decidedBy = decidedBy
        self.keyID = keyID
    }

    /// The decision as JSON; `CanonicalJSON.encode(json)` is the signed payload.
    public var json: JSONValue {
        .object([
            "format": .string(Self.format),
            "candidate": .string(candidate),
            "site": .string(site),
            "outcome": .string(outcome.rawValue),
            "criteria": .array(criteria.map(\.json)),
            "policy": .object(["id": .string(policyID), "version": .string(policyVersion), "sha256": .string(policySHA256)]),
            "log": .object(["size": .number(Double(logSize)), "head": .string(logHead)]),
            "decided_at": .string(decidedAt.description),
            "decided_by": .string(decidedBy),
            "key_id": .string(keyID),
            "meaning": .string(meaning),
        ])
    }

    /// How reports, exports and the audit trail name a policy version: `id@version`.
    public static func policyName(id: String, version: String) -> String { "\(id)@\(version)" }

    /// `id@version` of the policy a decision's JSON names.
    public static func policyName(of json: JSONValue) -> String {
        policyName(id: json["policy"]?["id"]?.stringValue ?? "", version: json["policy"]?["version"]?.stringValue ?? "")
    }

    /// The exact bytes signed for a decision whose JSON is `json`: what `decide` signs and every verifier checks.
    public static func signedBytes(of json: JSONValue) -> [UInt8] { CanonicalJSON.encode(json) }
}
