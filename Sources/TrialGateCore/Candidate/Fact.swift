/// One current fact about a candidate, with the events it rests on.
public struct Fact: Sendable, Equatable {
    /// The value, after corrections.
    public let value: JSONValue
    /// Sequence numbers of the events (records and corrections) this value comes from.
    public let evidence: [Int64]
    /// When the fact was observed (specimen, study or assessment date), for recency rules.
    public let observedOn: CivilDate?

    public init(value: JSONValue, evidence: [Int64], observedOn: CivilDate?) {
        self.value = value
        self.evidence = evidence
        self.observedOn = observedOn
    }
}

/// WHO 2019 grading of well-differentiated neuroendocrine tumours of the digestive system.
///
/// Source: WHO Classification of Tumours, Digestive System Tumours, 5th ed. (2019): G1 Ki-67 < 3 % and
/// mitoses < 2 per 2 mm²; G2 Ki-67 3–20 % or mitoses 2–20 per 2 mm²; G3 Ki-67 > 20 % or mitoses > 20 per 2 mm².
/// When the two disagree, the higher grade wins.
public enum NETGrade {
    /// The grade implied by a Ki-67 index in percent.
    public static func fromKi67(_ percent: Double) -> Int {
        percent < 3 ? 1 : (percent <= 20 ? 2 : 3)
    }

    /// The grade implied by a mitotic count per 2 mm² (10 high-power fields are taken as 2 mm²).
    public static func fromMitoses(_ count: Double) -> Int {
        count < 2 ? 1 : (count <= 20 ? 2 : 3)
    }
}
