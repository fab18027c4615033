/// One current fact about a candidate, with the events it rests on.
public struct Fact: Sendable, Equatable {
    /// The value, after corrections: for a quantity, the number as entered.
    public let value: JSONValue
    /// Sequence numbers of the events (records and corrections) this value comes from.
    public let evidence: [Int64]
    /// When the fact was observed (specimen, study or assessment date), for recency rules.
    public let observedOn: CivilDate?
    /// The UCUM unit of a quantity, as entered (clinical model 2 only).
    public let unit: String?

    public init(value: JSONValue, evidence: [Int64], observedOn: CivilDate?, unit: String? = nil) {
        self.value = value
        self.evidence = evidence
        self.observedOn = observedOn
        self.unit = unit
    }

    /// The value for display: `12.4 g/dL` for a quantity, the JSON otherwise.
    public var display: String {
        if let unit, let n = value.numberValue { return "\(CanonicalJSON.formatNumber(n)) \(unit)" }
        if case .string(let s) = value { return s }
        return CanonicalJSON.string(value)
    }
}

/// A value that lost to another for the same fact: an older observation, or the same day entered earlier.
public struct SupersededFact: Sendable, Equatable {
    public let fact: String
    public let value: JSONValue
    /// The unit of a quantity, as entered.
    public let unit: String?
    public let seq: Int64
    public let observedOn: CivilDate?
    /// The event whose value is in force instead.
    public let bySeq: Int64
    public let why: String
}
