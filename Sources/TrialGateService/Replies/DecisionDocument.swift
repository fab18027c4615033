import TrialGateCore

/// A decision as signed (`Decision.json`, whose RFC 8785 bytes the trial key signs), as a typed value: its encoding
/// is the signed document, member for member.
public struct DecisionDocument: Codable, Sendable, Equatable {
    public struct Criterion: Codable, Sendable, Equatable {
        public var id: String
        public var kind: String
        public var description: String
        public var source: String
        public var result: String
        public var reason: String
        /// The facts looked at, by name, as the evaluator saw them.
        public var observed: [String: JSONValue]
        public var threshold: String
        public var evidence: [Int64]
    }

    public struct Policy: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public var sha256: String
    }

    /// The log the decision was made on: its first `size` events, the newest of which has hash `head`.
    public struct Log: Codable, Sendable, Equatable {
        public var size: Int64
        public var head: String
    }

    public var format: String
    public var candidate: String
    public var site: String
    public var outcome: String
    public var criteria: [Criterion]
    public var policy: Policy
    public var log: Log
    public var decidedAt: String
    public var decidedBy: String
    public var keyID: String
    public var meaning: String

    enum CodingKeys: String, CodingKey {
        case format, candidate, site, outcome, criteria, policy, log, meaning
        case decidedAt = "decided_at", decidedBy = "decided_by", keyID = "key_id"
    }

    public init(_ d: Decision) {
        format = Decision.format
        candidate = d.candidate
        site = d.site
        outcome = d.outcome.rawValue
        criteria = d.criteria.map {
            Criterion(id: $0.id, kind: $0.kind.rawValue, description: $0.description, source: $0.source, result: $0.result.rawValue,
                      reason: $0.reason, observed: $0.observed, threshold: $0.threshold, evidence: $0.evidence)
        }
        policy = Policy(id: d.policyID, version: d.policyVersion, sha256: d.policySHA256)
        log = Log(size: d.logSize, head: d.logHead)
        decidedAt = d.decidedAt.description
        decidedBy = d.decidedBy
        keyID = d.keyID
        meaning = d.meaning
    }
}

extension DecisionDocument: BuildsOwnJSON {
    /// The document's encoding, built directly: a decision is encoded on every `decide`, where going through
    /// `JSONValueEncoder` cost a third more CPU per request. `TypedReplyTests` checks it equals the `Codable` encoding.
    public var json: JSONValue {
        .object([
            "format": .string(format), "candidate": .string(candidate), "site": .string(site), "outcome": .string(outcome),
            "criteria": .array(criteria.map(\.json)),
            "policy": .object(["id": .string(policy.id), "version": .string(policy.version), "sha256": .string(policy.sha256)]),
            "log": .object(["size": .number(Double(log.size)), "head": .string(log.head)]),
            "decided_at": .string(decidedAt), "decided_by": .string(decidedBy), "key_id": .string(keyID), "meaning": .string(meaning),
        ])
    }
}

extension DecisionDocument.Criterion {
    var json: JSONValue {
        .object([
            "id": .string(id), "kind": .string(kind), "description": .string(description), "source": .string(source),
            "result": .string(result), "reason": .string(reason), "observed": .object(observed), "threshold": .string(threshold),
            "evidence": .array(evidence.map { .number(Double($0)) }),
        ])
    }
}
