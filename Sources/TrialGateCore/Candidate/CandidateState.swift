/// A correction applied to one field of an earlier record. The old value is kept forever.
public struct CorrectionEntry: Sendable, Equatable {
    public let seq: Int64
    public let timestamp: UTCTimestamp
    public let actor: String
    public let field: String
    public let oldValue: JSONValue
    public let newValue: JSONValue
    public let reason: String
}

/// A record (registration or clinical record) as first written and as it stands after corrections.
public struct RecordEntry: Sendable, Equatable {
    public let seq: Int64
    public let type: EventType
    /// The event schema the record was written under; its corrections are held to that version's rules.
    public let schemaVersion: Int
    public let timestamp: UTCTimestamp
    public let actor: String
    /// The payload exactly as first recorded.
    public let original: JSONValue
    /// The payload with every correction applied in log order.
    public internal(set) var current: JSONValue
    public internal(set) var corrections: [CorrectionEntry]
}

/// A decision that was issued for the candidate.
public struct DecisionSummary: Sendable, Equatable {
    public let seq: Int64
    public let outcome: String
    public let timestamp: UTCTimestamp
    public let actor: String
    public let policyID: String
    public let policyVersion: String
    /// Each criterion's result (`pass`, `fail`, `unknown`, `skipped`), by criterion id.
    public let results: [String: String]
    /// The signature (base64) of the decision as signed; the decision itself stays in the log (event `seq`).
    public let signature: String
    /// The key the decision names.
    public let keyID: String
    /// The signed decision's outcome and policy members as stored, for the views that show them as they are (a
    /// forged decision may hold anything there; null when it holds nothing).
    public let storedOutcome: JSONValue
    public let storedPolicy: JSONValue

    /// `id@version` of the policy the decision was made under.
    public var policyName: String { Decision.policyName(id: policyID, version: policyVersion) }
}

/// Everything known about one candidate, folded from the log.
public struct CandidateState: Sendable, Equatable {
    public let id: String
    public let registeredSeq: Int64
    public internal(set) var records: [RecordEntry]
    public internal(set) var withdrawal: Withdrawal?
    public internal(set) var decisions: [DecisionSummary] = []
    /// The sequence number of the newest event about this candidate.
    public internal(set) var lastSeq: Int64
    /// The records, corrections and withdrawal since the newest decision: if any, that decision is stale.
    public internal(set) var changesSinceDecision: [StaleCause] = []
    /// Investigators' sign-offs, in log order.
    public internal(set) var signOffs: [SignOff] = []
    /// Review queries, in the order they were opened.
    public internal(set) var queries: [ReviewQuery] = []

    public static func == (a: CandidateState, b: CandidateState) -> Bool {
        a.id == b.id && a.records == b.records && a.decisions == b.decisions && a.lastSeq == b.lastSeq
            && a.withdrawal?.seq == b.withdrawal?.seq && a.signOffs == b.signOffs && a.queries == b.queries
            && a.changesSinceDecision == b.changesSinceDecision
    }

    /// The site the candidate is screened at (after corrections).
    public var site: String { Registration.site(records.first?.current ?? .null) }

    /// Whether the candidate left screening.
    public var isWithdrawn: Bool { withdrawal != nil }

    /// The record written by event `seq`, if it is this candidate's.
    public func record(seq: Int64) -> RecordEntry? { records.first { $0.seq == seq } }

    /// The current facts, by name (`ki67.percent`, `grade`, `clinical.ecog`, …).
    ///
    /// Each field takes the value of the newest record that gives it, after corrections; derived facts
    /// (`grade`, `clinical.prior_therapy_types`) are computed from those.
    public func facts() -> [String: Fact] {
        var facts: [String: Fact] = [:]
        facts["candidate.site"] = Fact(value: .string(site), evidence: evidence(of: records[0]), observedOn: nil)
        for record in records.dropFirst() {
            guard let prefix = record.type.factPrefix, let schema = RecordSchema.of(record.type, version: record.schemaVersion),
                case .object(let members) = record.current
            else { continue }
            let observed = schema.observedOnField.flatMap { members[$0]?.stringValue }.flatMap(CivilDate.init)
            let ev = evidence(of: record)
            for (field, value) in members where value != .null && !(record.type == .radiomicsRecorded && field == "features") {
                facts["\(prefix).\(field)"] = Fact(value: value, evidence: ev, observedOn: observed)
            }
        }
        if let grade = Self.grade(facts) { facts["grade"] = grade }
        Self.countPriorTherapyTypes(&facts)
        return facts
    }

    private func evidence(of record: RecordEntry) -> [Int64] {
        [record.seq] + record.corrections.map(\.seq)
    }

    private static func grade(_ facts: [String: Fact]) -> Fact? {
        var tally = GradeTally()
        if let f = facts["ki67.percent"], let v = f.value.numberValue { tally.take(NETGrade.fromKi67(v), f) }
        if let f = facts["mitotic_count.count"], let v = f.value.numberValue { tally.take(NETGrade.fromMitoses(v), f) }
        guard tally.grade > 0 else { return nil }
        return Fact(value: .string("G\(tally.grade)"), evidence: Array(Set(tally.evidence)).sorted(), observedOn: tally.observed)
    }

    /// `clinical.prior_therapy_types`: how many distinct types `clinical.prior_systemic_therapies` lists.
    static func countPriorTherapyTypes(_ facts: inout [String: Fact]) {
        if let prior = facts["clinical.prior_systemic_therapies"], let list = prior.value.arrayValue {
            facts["clinical.prior_therapy_types"] = Fact(value: .number(Double(list.count)), evidence: prior.evidence, observedOn: prior.observedOn)
        }
    }
}

/// The highest grade the measures give, the events they rest on, and the earliest date among them.
struct GradeTally {
    var grade = 0
    var evidence: [Int64] = []
    var observed: CivilDate?

    mutating func take(_ g: Int, _ f: Fact) {
        grade = max(grade, g)
        evidence += f.evidence
        if let d = f.observedOn { observed = observed.map { min($0, d) } ?? d }
    }
}
