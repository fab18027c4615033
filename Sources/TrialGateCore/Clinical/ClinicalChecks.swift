/// The checks of schema-version-2 records that look at a value's unit or at more than one field: every error
/// names the field, the value, the unit expected and the limit.
enum ClinicalChecks {
    /// A quantity field: `"<number> <unit>"`, a unit of the analyte, within the hard limits.
    static func quantity(_ value: JSONValue, _ a: Analyte, field: String, context: String) throws {
        func bad(_ why: String) -> CoreError { CoreError(.invalidField, "\(context): \"\(field)\" \(why)") }
        let ulnAllowed = a.judgedAgainstULN && !field.hasSuffix("_upper_limit")
        let allowed = a.unitList(withULN: ulnAllowed)
        guard let text = value.stringValue else {
            let shown = CanonicalJSON.string(value)
            throw bad("\(shown) has no unit; give the value with its unit, e.g. \"\(value.numberValue.map(CanonicalJSON.formatNumber) ?? "1") \(a.referenceUnit)\" (units: \(allowed))")
        }
        guard let q = Quantity(text) else {
            throw bad("\"\(text)\" is not a number and a unit separated by one space, e.g. \"12.4 \(a.referenceUnit)\" (units: \(allowed))")
        }
        if q.unit == "{ULN}" {
            guard ulnAllowed else {
                throw bad("\"\(text)\": {ULN} is not a unit of \(field) (expected \(a.unitList(withULN: false)))")
            }
            if !Analyte.ulnHard.contains(q.value) {
                throw bad("\(q.description) is outside what is possible, \(limits(Analyte.ulnHard, "{ULN}"))")
            }
            return
        }
        guard let reference = a.convert(q.value, from: q.unit, to: a.referenceUnit) else {
            throw bad("\"\(text)\": \(q.unit) is not a unit of \(a.meaning) (expected \(allowed))")
        }
        if !a.hard.contains(reference) {
            let hint = a.hard.lowerBound > reference && a.units.count > 1 ? "; was it entered in another unit?" : ""
            throw bad("\(q.description) is outside what is possible, \(limits(a.hard, a.referenceUnit))\(hint)")
        }
    }

    static func limits(_ r: ClosedRange<Double>, _ unit: String) -> String {
        "\(CanonicalJSON.formatNumber(r.lowerBound)) to \(CanonicalJSON.formatNumber(r.upperBound)) \(unit)"
    }

    /// Checks across the fields of one record.
    static func check(_ type: EventType, _ m: [String: JSONValue], context: String) throws {
        switch type {
        case .mitoticCountRecorded:
            if m["unit"]?.stringValue == "per_10hpf", m["hpf_area_mm2"] == nil {
                throw CoreError(.missingField, "\(context): \"hpf_area_mm2\" is required when unit is per_10hpf: the area of one high-power field in mm² (0.2 for a field of 0.5 mm diameter, where 10 HPF are 2 mm²)")
            }
            if m["unit"]?.stringValue == "per_2mm2", m["hpf_area_mm2"] != nil {
                throw CoreError(.invalidField, "\(context): \"hpf_area_mm2\" applies only to a count per_10hpf")
            }
        case .clinicalRecorded:
            let confirmed = Set((m["confirm_unusual"]?.arrayValue ?? []).compactMap(\.stringValue))
            for a in Analyte.all {
                guard let text = m[a.field]?.stringValue, let q = Quantity(text) else { continue }
                var usual = a.usual, unit = a.referenceUnit, v = q.value
                if q.unit == "{ULN}" {
                    usual = Analyte.ulnUsual
                    unit = "{ULN}"
                } else {
                    v = a.convert(q.value, from: q.unit, to: a.referenceUnit) ?? q.value
                    if a.judgedAgainstULN {
                        guard let limitText = m["\(a.field)_upper_limit"]?.stringValue, let limit = Quantity(limitText),
                            (a.convert(limit.value, from: limit.unit, to: a.referenceUnit) ?? 0) > 0
                        else {
                            throw CoreError(.missingField, "\(context): \"\(a.field)\" \(q.description) needs the laboratory's upper limit of normal in \"\(a.field)_upper_limit\" (e.g. \"21 umol/L\"), or give it as a multiple, e.g. \"1.2 {ULN}\"")
                        }
                    }
                }
                if !usual.contains(v), !confirmed.contains(a.field) {
                    let shown = unit == q.unit ? q.description : "\(q.description) (\(CanonicalJSON.formatNumber(v)) \(unit))"
                    throw CoreError(.invalidField, "\(context): \"\(a.field)\" \(shown) is outside the usual range \(limits(usual, unit)); check it and, if it is right, record it with confirm_unusual=[\"\(a.field)\"]")
                }
            }
        default:
            break
        }
    }
}
