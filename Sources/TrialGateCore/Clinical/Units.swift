/// A laboratory or vital-sign quantity that a clinical record (schema version 2) carries with its unit.
///
/// Units are UCUM codes (The Unified Code for Units of Measure, ucum.org): `g/dL`, `10*9/L`, `umol/L`, `mm[Hg]`.
/// `{ULN}` (a UCUM annotation) marks a multiple of the reporting laboratory's upper limit of normal.
/// Hard limits refuse what cannot be true; soft limits flag what is possible but unusual, which the record
/// must then confirm (`confirm_unusual`), as EDC edit checks do. Limits are TrialGate's plausibility checks,
/// not eligibility criteria: eligibility is the policy's.
public struct Analyte: Sendable {
    /// The field name in `clinical.recorded`.
    public let field: String
    public let meaning: String
    /// Accepted units and the factor that turns one of them into `units[0]`, the reference unit.
    public let units: [(code: String, factor: Double)]
    /// Values no living patient can have, in the reference unit.
    public let hard: ClosedRange<Double>
    /// Values that need `confirm_unusual`, outside this range, in the reference unit.
    public let usual: ClosedRange<Double>
    /// Whether a value may also be given as a multiple of the laboratory's upper limit of normal (`{ULN}`), or
    /// in a unit of its own together with the laboratory's limit (`<field>_upper_limit`).
    public let judgedAgainstULN: Bool
    /// The unit a bare number meant in schema version 1 records (`nil`: the field did not exist then).
    public let legacyUnit: String?
    /// A typical value with its unit, for error messages.
    public let example: String
    /// For an analyte judged against the laboratory's upper limit of normal: the usual range of that limit, in
    /// the reference unit (outside it, `confirm_unusual` must name `<field>_upper_limit`).
    public var upperLimitUsual: ClosedRange<Double>? = nil

    /// The reference unit.
    public var referenceUnit: String { units[0].code }

    /// The factor of `unit` to the reference unit, if the unit measures this analyte.
    public func factor(_ unit: String) -> Double? { units.first { $0.code == unit }?.factor }

    /// The accepted units, in words (`g/L, g/dL or mmol/L`).
    public var unitList: String { unitList(withULN: judgedAgainstULN) }

    /// The units, in words, with `{ULN}` when it is accepted.
    public func unitList(withULN: Bool) -> String {
        let codes = units.map(\.code) + (withULN ? ["{ULN}"] : [])
        return codes.count == 1 ? codes[0] : codes.dropLast().joined(separator: ", ") + " or " + codes.last!
    }

    /// Converts `value` from `unit` into `target`; the result is rounded to 9 decimal places so that a
    /// conversion gives the same number on every machine and a bound written in one unit is met exactly by the
    /// same amount written in another. Entered values have at most 4 decimals and the factors at most 6
    /// significant digits, so the rounding never moves a value across a bound.
    public func convert(_ value: Double, from unit: String, to target: String) -> Double? {
        guard let a = factor(unit), let b = factor(target) else { return nil }
        if unit == target { return value }
        return Quantity.round9(value * a / b)
    }

    /// `q` as a multiple of the laboratory's upper limit of normal: its value when given in `{ULN}`, otherwise the
    /// two converted to the reference unit and divided (9 decimals); nil without a usable limit.
    public func multipleOfUpperLimit(_ q: Quantity, limit: Quantity?) -> Double? {
        if q.unit == "{ULN}" { return q.value }
        guard let limit, let v = convert(q.value, from: q.unit, to: referenceUnit), let l = convert(limit.value, from: limit.unit, to: referenceUnit),
            l > 0
        else { return nil }
        return Quantity.round9(v / l)
    }

    /// `q` as entered, followed by its value in the reference unit when it was entered in another:
    /// `3 g/dL (30 g/L)`.
    func shownWithReference(_ q: Quantity, _ reference: Double) -> String {
        q.unit == referenceUnit ? q.description : "\(q.description) (\(CanonicalJSON.formatNumber(reference)) \(referenceUnit))"
    }

    /// The analytes of `clinical.recorded`, schema version 2.
    ///
    /// Conversion factors: haemoglobin 1 mmol/L = 16.1145 g/L (molar mass of the haemoglobin monomer,
    /// 16 114.5 g/mol); bilirubin 1 mg/dL = 17.104 µmol/L (molar mass 584.66 g/mol); 1 /µL = 10⁻³ × 10⁹/L.
    public static let all: [Analyte] = [
        Analyte(field: "anc", meaning: "absolute neutrophil count", units: [("10*9/L", 1), ("10*3/uL", 1), ("/uL", 0.001)],
                hard: 0...200, usual: 0.5...30, judgedAgainstULN: false, legacyUnit: "10*9/L", example: "3.2 10*9/L"),
        Analyte(field: "platelets", meaning: "platelet count", units: [("10*9/L", 1), ("10*3/uL", 1), ("/uL", 0.001)],
                hard: 0...5000, usual: 20...1000, judgedAgainstULN: false, legacyUnit: "10*9/L", example: "210 10*9/L"),
        Analyte(field: "haemoglobin", meaning: "haemoglobin", units: [("g/L", 1), ("g/dL", 10), ("mmol/L", 16.1145)],
                hard: 20...250, usual: 60...200, judgedAgainstULN: false, legacyUnit: "g/L", example: "12.8 g/dL"),
        Analyte(field: "bilirubin", meaning: "total bilirubin", units: [("umol/L", 1), ("mg/dL", 17.104)],
                hard: 0...1000, usual: 1...100, judgedAgainstULN: true, legacyUnit: nil, example: "12 umol/L", upperLimitUsual: 5...40),
        Analyte(field: "systolic_bp", meaning: "systolic blood pressure", units: [("mm[Hg]", 1)],
                hard: 40...300, usual: 80...200, judgedAgainstULN: false, legacyUnit: nil, example: "128 mm[Hg]"),
        Analyte(field: "diastolic_bp", meaning: "diastolic blood pressure", units: [("mm[Hg]", 1)],
                hard: 20...200, usual: 40...120, judgedAgainstULN: false, legacyUnit: nil, example: "80 mm[Hg]"),
        Analyte(field: "urine_protein_24h", meaning: "urine protein in 24 hours", units: [("g/(24.h)", 1), ("mg/(24.h)", 0.001)],
                hard: 0...60, usual: 0...5, judgedAgainstULN: false, legacyUnit: nil, example: "0.2 g/(24.h)"),
    ]

    /// Multiples of the upper limit of normal: hard and usual ranges.
    public static let ulnHard: ClosedRange<Double> = 0...100
    public static let ulnUsual: ClosedRange<Double> = 0...10

    /// The analyte recorded in `field` of `clinical.recorded`.
    public static func named(_ field: String) -> Analyte? { all.first { $0.field == field } }
}

/// A number with its UCUM unit, written `"12.4 g/dL"`: a decimal number, one space, the unit.
public struct Quantity: Sendable, Equatable {
    public let value: Double
    public let unit: String

    public init(value: Double, unit: String) {
        self.value = value
        self.unit = unit
    }

    /// Parses `"12.4 g/dL"`; nil if the text is not a decimal number with at most 4 decimals, one space and a unit.
    public init?(_ text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, let v = Double(parts[0]), v.isFinite,
            parts[0].allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-") }),
            (parts[0].split(separator: ".", omittingEmptySubsequences: false).dropFirst().first?.count ?? 0) <= 4
        else { return nil }
        value = v
        unit = String(parts[1])
    }

    /// `12.4 g/dL`.
    public var description: String { "\(CanonicalJSON.formatNumber(value)) \(unit)" }

    /// Rounds to 9 decimal places (half away from zero).
    public static func round9(_ x: Double) -> Double { (x * 1_000_000_000).rounded() / 1_000_000_000 }
}
