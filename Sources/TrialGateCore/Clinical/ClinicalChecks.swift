/// The checks of schema-version-2 records that look at a value's unit or at more than one field: every error
/// names the field, the value, the unit expected and the limit.
enum ClinicalChecks {
    /// A quantity field: `"<number> <unit>"`, a unit of the analyte, within the hard limits.
    static func quantity(_ value: JSONValue, _ a: Analyte, field: String, context: String) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidField, "\(context): \"\(field)\" \(why)") }
        let ulnAllowed = a.judgedAgainstULN && !field.hasSuffix("_upper_limit")
        let allowed = a.unitList(withULN: ulnAllowed)
        guard let text = value.stringValue else {
            throw bad("\(CanonicalJSON.string(value)) has no unit; give the value with its unit, e.g. \"\(a.example)\" (units: \(allowed))")
        }
        guard let q = Quantity(text) else {
            throw bad("\"\(text)\" is not a decimal number (at most 4 decimals) and a unit separated by one space, e.g. \"\(a.example)\" (units: \(allowed))")
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
            let shown = a.shownWithReference(q, reference)
            let hint = reference > 0 && reference < a.hard.lowerBound && a.units.count > 1 ? "; was it entered in another unit?" : ""
            throw bad("\(shown) is outside what is possible, \(limits(a.hard, a.referenceUnit))\(hint)")
        }
    }

    static func limits(_ r: ClosedRange<Double>, _ unit: String) -> String {
        "\(CanonicalJSON.formatNumber(r.lowerBound)) to \(CanonicalJSON.formatNumber(r.upperBound)) \(unit)"
    }

    /// Checks across the fields of one record.
    /// - Parameter correcting: the record is being corrected (a confirmation written earlier stays valid).
    static func check(_ type: EventType, _ m: [String: JSONValue], context: String, correcting: Bool) throws {
        if type == .radiomicsRecorded { return try radiomics(m, context: context) }
        switch type {
        case .mitoticCountRecorded:
            if m["unit"]?.stringValue == "per_10hpf", m["hpf_area_mm2"] == nil {
                throw TrialGateError(.missingField, "\(context): \"hpf_area_mm2\" is required when unit is per_10hpf: the area of one high-power field in mm² (0.2 for a field of 0.5 mm diameter, where 10 HPF are 2 mm²)")
            }
            if m["unit"]?.stringValue == "per_2mm2", m["hpf_area_mm2"] != nil {
                throw TrialGateError(.invalidField, "\(context): \"hpf_area_mm2\" applies only to a count per_10hpf")
            }
        case .clinicalRecorded:
            try clinical(m, context: context, correcting: correcting)
        default:
            break
        }
    }

    /// A value outside its usual range, in words, or nil.
    private static func unusual(_ shown: String, _ v: Double, _ usual: ClosedRange<Double>, _ unit: String) -> String? {
        usual.contains(v) ? nil : "\(shown) is outside the usual range \(limits(usual, unit))"
    }

    private static func clinical(_ m: [String: JSONValue], context: String, correcting: Bool) throws {
        let confirmed = Set((m["confirm_unusual"]?.arrayValue ?? []).compactMap(\.stringValue))
        var unusualFields: Set<String> = []
        func flag(_ field: String, _ why: String?) throws {
            guard let why else { return }
            unusualFields.insert(field)
            if !confirmed.contains(field) {
                throw TrialGateError(.invalidField, "\(context): \"\(field)\" \(why); check it and, if it is right, record it with confirm_unusual=[\"\(field)\"]")
            }
        }
        for a in Analyte.all {
            let limitField = "\(a.field)_upper_limit"
            let limit = m[limitField]?.stringValue.flatMap(Quantity.init)
            guard let text = m[a.field]?.stringValue, let q = Quantity(text) else {
                if limit != nil {
                    throw TrialGateError(.missingField, "\(context): \"\(limitField)\" goes with a \"\(a.field)\" value in the same record; give both")
                }
                continue
            }
            if q.unit == "{ULN}" {
                try flag(a.field, unusual(q.description, q.value, Analyte.ulnUsual, "{ULN}"))
                continue
            }
            let v = a.convert(q.value, from: q.unit, to: a.referenceUnit) ?? q.value
            try flag(a.field, unusual(a.shownWithReference(q, v), v, a.usual, a.referenceUnit))
            guard a.judgedAgainstULN else { continue }
            guard let limit, let l = a.convert(limit.value, from: limit.unit, to: a.referenceUnit),
                let ratio = a.multipleOfUpperLimit(q, limit: limit)
            else {
                throw TrialGateError(.missingField, "\(context): \"\(a.field)\" \(q.description) needs the laboratory's upper limit of normal in \"\(limitField)\" (e.g. \"21 umol/L\"), or give it as a multiple, e.g. \"1.2 {ULN}\"")
            }
            if let usual = a.upperLimitUsual {
                try flag(limitField, unusual(a.shownWithReference(limit, l), l, usual, a.referenceUnit))
            }
            if !Analyte.ulnHard.contains(ratio) {
                throw TrialGateError(.invalidField, "\(context): \"\(a.field)\" \(q.description) is \(CanonicalJSON.formatNumber(ratio)) × its upper limit \(limit.description), outside what is possible, \(limits(Analyte.ulnHard, "{ULN}"))")
            }
            try flag(a.field, unusual("\(q.description) (\(CanonicalJSON.formatNumber(ratio)) × the upper limit \(limit.description))", ratio, Analyte.ulnUsual, "{ULN}"))
        }
        // A confirmation is given for a value that needs one, not in advance; a correction keeps earlier ones.
        if !correcting {
            for field in confirmed.sorted() where !unusualFields.contains(field) {
                throw TrialGateError(.invalidField, "\(context): confirm_unusual names \"\(field)\", but this record has no unusual \(field) value to confirm")
            }
        }
    }

    /// A radiomics record: the second reader is named, and dated, exactly when the mask was read a second time.
    private static func radiomics(_ m: [String: JSONValue], context: String) throws {
        let status = m["qc_status"]?.stringValue ?? ""
        let reader = m["qc_reader"].flatMap { $0 == .null ? nil : $0.stringValue }
        let date = m["qc_date"].flatMap { $0 == .null ? nil : $0.stringValue }
        if status == "pending" {
            if reader != nil || date != nil {
                throw TrialGateError(.invalidField, "\(context): qc_status is pending, so qc_reader and qc_date are not given yet (record the second reading as a new record when it is done)")
            }
            return
        }
        guard let reader else { throw TrialGateError(.missingField, "\(context): \"qc_reader\" is required when qc_status is \(status) (the second reader)") }
        guard let date else { throw TrialGateError(.missingField, "\(context): \"qc_date\" is required when qc_status is \(status) (the date of the second reading)") }
        // Pseudonyms compare without letter case: READER-A is reader-a.
        if reader.lowercased() == m["segmentation_reader"]?.stringValue?.lowercased() {
            throw TrialGateError(.invalidField, "\(context): \"qc_reader\" \"\(reader)\" is the segmentation reader; quality control needs a second reader")
        }
        if let study = m["study_date"]?.stringValue.flatMap(CivilDate.init), let d = CivilDate(date), d < study {
            throw TrialGateError(.invalidField, "\(context): \"qc_date\" \(date) is before the study date \(study)")
        }
    }
}
