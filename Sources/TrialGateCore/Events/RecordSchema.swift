/// The shape of one field of a clinical record.
public enum FieldKind: Sendable {
    /// A calendar date `YYYY-MM-DD`, never after the day it is recorded on.
    case date
    /// A number in a closed range.
    case number(ClosedRange<Double>)
    /// A whole number in a closed range.
    case integer(ClosedRange<Int>)
    /// One of a fixed list of words.
    case choice([String])
    case boolean
    /// Lower-case hex SHA-256 (64 characters).
    case sha256
    /// Free text of bounded length.
    case text(maxLength: Int)
    /// A list of distinct words from a fixed list.
    case choiceList([String])
    /// A pseudonymous code: 1 to 64 letters, digits, `.`, `_` or `-`.
    case identifier
    /// A number with its UCUM unit, `"12.4 g/dL"`, within the analyte's hard limits.
    case quantity(Analyte)
    /// An ICD-O-3 topography code TrialGate knows (`PrimaryOrgan`).
    case organ
    /// Radiomic features: name → `{"value": number, "unit": UCUM}` (`FeatureVector`).
    case featureVector
}

/// One field of a record: name, shape, whether it must be given, what it means.
public struct FieldSpec: Sendable {
    public let name: String
    public let kind: FieldKind
    public let required: Bool
    public let meaning: String
    /// The UCUM unit a plain number of this field is in (a quantity carries its own unit; nil: none, or not a number).
    public let unit: String?

    init(_ name: String, _ kind: FieldKind, required: Bool = false, unit: String? = nil, _ meaning: String) {
        self.name = name
        self.kind = kind
        self.required = required
        self.unit = unit
        self.meaning = meaning
    }
}

/// The fields a record event may carry, and their validation.
///
/// One table drives recording, correcting and replaying, so a correction is held to exactly the rules
/// of the record it corrects.
public struct RecordSchema: Sendable {
    public let type: EventType
    /// The event schema version this table belongs to (`Event.schemaVersion`).
    public let version: Int
    public let fields: [FieldSpec]
    /// The field whose date says when the fact was observed, for recency rules.
    public let observedOnField: String?

    /// The schema of an event type as written under event schema `version`, if that type carries a clinical
    /// record or registration then. A record keeps the rules of the version it was written under: a
    /// correction of it is held to them too, so old events keep their meaning.
    public static func of(_ type: EventType, version: Int) -> RecordSchema? {
        switch version {
        case 1: version1[type]
        case 2: version2[type]
        default: version3[type]
        }
    }

    /// Validates a record payload.
    /// - Parameter today: the UTC date the record is made on; later dates are refused.
    /// - Throws: `invalid_field`, `missing_field` or `unknown_field` naming the field.
    /// - Parameter correcting: the record as a correction would leave it (its confirmations were given earlier).
    public func validate(_ payload: JSONValue, today: CivilDate, correcting: Bool = false) throws {
        let context = "\(type.rawValue)"
        guard case .object(let members) = payload else {
            throw TrialGateError(.invalidField, "\(context): fields must be a JSON object, not \(payload.typeName)")
        }
        let unknown = members.keys.filter { key in !fields.contains { $0.name == key } }.sorted()
        if !unknown.isEmpty {
            throw TrialGateError(.unknownField,
                "\(context): unknown field\(unknown.count > 1 ? "s" : "") \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")); allowed: \(fields.map(\.name).joined(separator: ", "))")
        }
        for spec in fields {
            guard let value = members[spec.name], value != .null else {
                if spec.required { throw TrialGateError(.missingField, "\(context): \"\(spec.name)\" is required (\(spec.meaning))") }
                continue
            }
            try Self.check(value, spec, context: context, today: today)
            // From schema 3 free text is plain text: no control characters but newlines, no invisible ones.
            if version >= 3, case .text(let maxLength) = spec.kind, let text = value.stringValue,
               let why = SignedText.problem(text, maxLength: maxLength, multiline: true) {
                throw TrialGateError(.invalidField, "\(context): \"\(spec.name)\" must be \(why)")
            }
        }
        if version >= 2 { try ClinicalChecks.check(type, members, context: context, correcting: correcting) }
    }

    static func check(_ value: JSONValue, _ spec: FieldSpec, context: String, today: CivilDate) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidField, "\(context): \"\(spec.name)\" \(why)") }
        switch spec.kind {
        case .date:
            guard let s = value.stringValue, let d = CivilDate(s) else { throw bad("must be a date YYYY-MM-DD, got \(CanonicalJSON.string(value))") }
            if d > today { throw bad("is in the future (\(s) is after today, \(today))") }
        case .number(let range):
            guard let n = value.numberValue else { throw bad("must be a number, not \(value.typeName)") }
            if !range.contains(n) { throw bad("must be between \(CanonicalJSON.formatNumber(range.lowerBound)) and \(CanonicalJSON.formatNumber(range.upperBound)), got \(CanonicalJSON.formatNumber(n))") }
        case .integer(let range):
            guard let n = value.intValue else { throw bad("must be a whole number, got \(CanonicalJSON.string(value))") }
            if !range.contains(n) { throw bad("must be between \(range.lowerBound) and \(range.upperBound), got \(n)") }
        case .choice(let words):
            guard let s = value.stringValue, words.contains(s) else { throw bad("must be one of \(words.joined(separator: ", ")), got \(CanonicalJSON.string(value))") }
        case .boolean:
            guard value.boolValue != nil else { throw bad("must be true or false, not \(value.typeName)") }
        case .sha256:
            guard let s = value.stringValue, isSHA256Hex(s) else { throw bad("must be a lower-case hex SHA-256 (64 characters)") }
        case .text(let maxLength):
            guard let s = value.stringValue else { throw bad("must be a string, not \(value.typeName)") }
            if s.isEmpty || s.count > maxLength { throw bad("must be 1 to \(maxLength) characters") }
        case .identifier:
            guard let s = value.stringValue else { throw bad("must be a string, not \(value.typeName)") }
            do { try validateIdentifier(s, what: "\"\(spec.name)\"") } catch let e as TrialGateError {
                throw TrialGateError(.invalidField, "\(context): \(e.message)")
            }
        case .quantity(let analyte):
            try ClinicalChecks.quantity(value, analyte, field: spec.name, context: context)
        case .organ:
            guard let s = value.stringValue, PrimaryOrgan.named(s) != nil else {
                throw bad("must be an ICD-O-3 topography code TrialGate knows (C25.0–C25.4, C25.7–C25.9 pancreas, C17.2 ileum, C34.0–C34.3, C34.8, C34.9 lung, C37.9 thymus, C80.9 unknown primary, … see docs/clinical-criteria.md), got \(CanonicalJSON.string(value))")
            }
        case .featureVector:
            try FeatureVector.validate(value, context: context)
        case .choiceList(let words):
            guard let list = value.arrayValue else { throw bad("must be a list, not \(value.typeName)") }
            var seen = Set<String>()
            for item in list {
                guard let s = item.stringValue, words.contains(s) else { throw bad("items must be among \(words.joined(separator: ", ")), got \(CanonicalJSON.string(item))") }
                if !seen.insert(s).inserted { throw bad("lists \"\(s)\" twice") }
            }
        }
    }

    /// Validates a pseudonymous candidate or site identifier: letters, digits, `.`, `_`, `-`, at most 64.
    public static func validateIdentifier(_ id: String, what: String) throws {
        if !isIdentifier(id) { throw TrialGateError(.invalidField, "\(what) \"\(id)\" must be 1 to 64 letters, digits, '.', '_' or '-' (a pseudonym, never a name)") }
    }

    /// Whether `text` is 1 to 64 letters, digits, `.`, `_` or `-`: the alphabet of identifiers and feature names.
    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy {
            (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
        }
    }

    /// Whether `text` is a lower-case hex SHA-256 (64 characters).
    static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static let version1: [EventType: RecordSchema] = {
        var s: [EventType: RecordSchema] = [:]
        func add(_ t: EventType, observedOn: String?, _ f: [FieldSpec]) { s[t] = RecordSchema(type: t, version: 1, fields: f, observedOnField: observedOn) }
        add(.candidateRegistered, observedOn: nil, [
            FieldSpec("site", .identifier, required: true, "the screening site's code"),
            FieldSpec("consent_date", .date, "date informed consent for screening was signed"),
        ])
        add(.imagingRecorded, observedOn: "study_date", [
            FieldSpec("study_date", .date, required: true, "date of the imaging study"),
            FieldSpec("modality", .choice(["CT", "MRI", "PET-CT", "PET-MRI"]), required: true, "imaging modality"),
            FieldSpec("contrast_phases", .choiceList(["non_contrast", "arterial", "portal_venous", "delayed"]), "contrast phases acquired"),
            FieldSpec("recist_measurable", .boolean, required: true, "at least one RECIST 1.1 measurable lesion"),
            FieldSpec("target_lesion_sum_mm", .number(0...5000), unit: "mm", "sum of target-lesion diameters (RECIST 1.1), mm"),
            FieldSpec("progression_date", .date, "date of documented radiological progression"),
            FieldSpec("radiomics_digest", .sha256, "SHA-256 of the radiomic feature vector"),
        ])
        add(.ki67Recorded, observedOn: "specimen_date", [
            FieldSpec("percent", .number(0...100), required: true, unit: "%", "Ki-67 labelling index, %"),
            FieldSpec("specimen_date", .date, required: true, "date the specimen was taken"),
            FieldSpec("method", .choice(["manual_count", "digital_image_analysis", "eyeball_estimate"]), required: true, "how the index was counted"),
        ])
        add(.mitoticCountRecorded, observedOn: "specimen_date", [
            FieldSpec("count", .number(0...1000), required: true, "mitoses counted"),
            FieldSpec("unit", .choice(["per_2mm2", "per_10hpf"]), required: true, "the area counted over"),
            FieldSpec("specimen_date", .date, required: true, "date the specimen was taken"),
        ])
        add(.sstrRecorded, observedOn: "study_date", [
            FieldSpec("status", .choice(["positive", "negative", "equivocal"]), required: true, "somatostatin-receptor status"),
            FieldSpec("modality", .choice(["ga68_dotatate_pet", "ga68_dotatoc_pet", "ga68_dotanoc_pet", "cu64_dotatate_pet", "octreoscan", "immunohistochemistry"]), required: true, "how SSTR status was determined"),
            FieldSpec("krenning_score", .integer(1...4), "Krenning uptake score"),
            FieldSpec("study_date", .date, required: true, "date of the study"),
        ])
        add(.modelScoreRecorded, observedOn: "study_date", [
            FieldSpec("model", .text(maxLength: 128), required: true, "model name"),
            FieldSpec("version", .text(maxLength: 64), required: true, "model version"),
            FieldSpec("artifact_sha256", .sha256, required: true, "SHA-256 of the model artifact"),
            FieldSpec("score", .number(0...1), required: true, "model output"),
            FieldSpec("predicts", .text(maxLength: 256), required: true, "what the score predicts"),
            FieldSpec("study_date", .date, required: true, "date of the imaging study the score was computed from"),
        ])
        add(.clinicalRecorded, observedOn: "assessed_on", [
            FieldSpec("assessed_on", .date, required: true, "date of the assessment"),
            FieldSpec("primary_site", .choice(["pancreatic", "extrapancreatic"]), "primary tumour site"),
            FieldSpec("organ", .text(maxLength: 64), "organ of the primary"),
            FieldSpec("ecog", .integer(0...5), "ECOG performance status"),
            FieldSpec("age", .integer(0...120), unit: "a", "age in whole years"),
            FieldSpec("prior_systemic_therapies", .choiceList(["somatostatin_analogue", "chemotherapy", "targeted_therapy", "mtor_inhibitor", "prrt", "interferon", "immunotherapy", "other"]), "types of prior systemic antitumour therapy"),
            FieldSpec("anc", .number(0...100), unit: "10*9/L", "absolute neutrophil count, ×10^9/L"),
            FieldSpec("platelets", .number(0...5000), unit: "10*9/L", "platelets, ×10^9/L"),
            FieldSpec("haemoglobin", .number(0...300), unit: "g/L", "haemoglobin, g/L"),
            FieldSpec("bilirubin_uln", .number(0...100), unit: "{ULN}", "total bilirubin, × upper limit of normal"),
        ])
        add(.candidateWithdrawn, observedOn: nil, [
            FieldSpec("reason", .text(maxLength: 1000), required: true, "why the candidate left screening"),
        ])
        return s
    }()

    static let version2: [EventType: RecordSchema] = {
        var s: [EventType: RecordSchema] = [:]
        for (t, schema) in version1 where t != .mitoticCountRecorded && t != .clinicalRecorded {
            s[t] = RecordSchema(type: t, version: 2, fields: schema.fields, observedOnField: schema.observedOnField)
        }
        func add(_ t: EventType, observedOn: String, _ f: [FieldSpec]) { s[t] = RecordSchema(type: t, version: 2, fields: f, observedOnField: observedOn) }
        add(.mitoticCountRecorded, observedOn: "specimen_date", [
            FieldSpec("count", .integer(0...1000), required: true, "mitoses counted (a whole number)"),
            FieldSpec("unit", .choice(["per_2mm2", "per_10hpf"]), required: true, "the area counted over"),
            FieldSpec("hpf_area_mm2", .number(0.1...0.4), unit: "mm2", "area of one high-power field, mm² (required with per_10hpf; 0.2 for a 0.5 mm field diameter; a 40× objective gives 0.12–0.35)"),
            FieldSpec("specimen_date", .date, required: true, "date the specimen was taken"),
        ])
        add(.pathologyRecorded, observedOn: "specimen_date", [
            FieldSpec("specimen_date", .date, required: true, "date the specimen was taken"),
            FieldSpec("primary_organ", .organ, required: true, "primary organ, ICD-O-3 topography code"),
            FieldSpec("tumour_type", .choice(["NET", "NEC", "MiNEN"]), required: true, "neuroendocrine tumour, carcinoma, or mixed neuroendocrine–non-neuroendocrine neoplasm"),
            FieldSpec("differentiation", .choice(["well", "poorly"]), required: true, "differentiation"),
            FieldSpec("necrosis", .choice(["absent", "present"]), "necrosis (foci of necrosis grade a lung or thymus NET G2)"),
            FieldSpec("review", .choice(["central", "local"]), required: true, "whose pathology review this is"),
        ])
        var clinical: [FieldSpec] = [
            FieldSpec("assessed_on", .date, required: true, "date of the assessment and of the samples"),
            FieldSpec("ecog", .integer(0...5), "ECOG performance status"),
            FieldSpec("age", .integer(0...120), unit: "a", "age in whole years"),
            FieldSpec("prior_systemic_therapies", .choiceList(["somatostatin_analogue", "chemotherapy", "targeted_therapy", "mtor_inhibitor", "prrt", "interferon", "immunotherapy", "other"]), "types of prior systemic antitumour therapy the disease progressed on (all chemotherapy is one type)"),
            FieldSpec("antihypertensive_treatment", .boolean, "whether the candidate takes antihypertensive medication"),
            FieldSpec("urine_protein_dipstick", .choice(["negative", "trace", "1+", "2+", "3+", "4+"]), "urine dipstick protein"),
        ]
        for a in Analyte.all {
            clinical.append(FieldSpec(a.field, .quantity(a), "\(a.meaning), with its unit (\(a.unitList))"))
            if a.judgedAgainstULN {
                clinical.append(FieldSpec("\(a.field)_upper_limit", .quantity(a), "the laboratory's upper limit of normal for \(a.meaning), with its unit (needed when \(a.field) is not given in {ULN})"))
            }
        }
        let confirmable = Analyte.all.flatMap { a in [a.field] + (a.upperLimitUsual == nil ? [] : ["\(a.field)_upper_limit"]) }
        clinical.append(FieldSpec("confirm_unusual", .choiceList(confirmable), "fields whose unusual value was checked and is right"))
        add(.clinicalRecorded, observedOn: "assessed_on", clinical)
        add(.attestationRecorded, observedOn: "attested_on", [
            FieldSpec("criterion", .identifier, required: true, "the id of the policy criterion attested"),
            FieldSpec("result", .choice(["pass", "fail"]), required: true, "pass: the inclusion holds or the exclusion does not apply"),
            FieldSpec("attested_on", .date, required: true, "date the facts were checked"),
            FieldSpec("statement", .text(maxLength: 1000), "what was checked, in words"),
        ])
        return s
    }()

    /// Version 3: an attestation is an investigator's signed statement (`AttestationStatement`), a withdrawal names its
    /// category; the rest is version 2.
    static let version3: [EventType: RecordSchema] = {
        var s: [EventType: RecordSchema] = [:]
        for (t, schema) in version2 { s[t] = RecordSchema(type: t, version: 3, fields: schema.fields, observedOnField: schema.observedOnField) }
        let attestation = version2[.attestationRecorded]!
        s[.attestationRecorded] = RecordSchema(type: .attestationRecorded, version: 3, fields: attestation.fields + [
            FieldSpec("signer", .identifier, required: true, "the investigator's account name"),
            FieldSpec("printed_name", .text(maxLength: 200), required: true, "the investigator's name as the signature shows it"),
            FieldSpec("key_id", .identifier, required: true, "the investigator's key id"),
            FieldSpec("signed_at", .text(maxLength: 24), required: true, "UTC time of signing"),
            FieldSpec("signature", .text(maxLength: 100), required: true, "base64 Ed25519 signature of the attestation statement"),
        ], observedOnField: attestation.observedOnField)
        // A withdrawal names its CONSORT category (`WithdrawalCategory`); the reason is free text beside it, required with
        // `other`. Both are optional here so that a schema-3 withdrawal written before categories existed (a reason
        // alone) still verifies; `WithdrawalCategory.check` holds the rest, and new withdrawals must name a category.
        s[.candidateWithdrawn] = RecordSchema(type: .candidateWithdrawn, version: 3, fields: [
            FieldSpec("category", .choice(WithdrawalCategory.codes), "why the candidate left screening, as the CONSORT 2010 flow diagram counts it"),
            FieldSpec("reason", .text(maxLength: 1000), "why, in words (required when category is other)"),
        ], observedOnField: nil)
        s[.radiomicsRecorded] = RecordSchema(type: .radiomicsRecorded, version: 3, fields: [
            FieldSpec("study_date", .date, required: true, "acquisition date of the CT"),
            FieldSpec("study_uid", .identifier, required: true, "pseudonymous study identifier"),
            FieldSpec("series_uid", .identifier, required: true, "pseudonymous series identifier"),
            FieldSpec("contrast_phase", .choice(RegisteredModel.contrastPhases), required: true, "contrast phase of the series"),
            FieldSpec("slice_thickness_mm", .number(0.1...20), required: true, unit: "mm", "slice thickness, mm"),
            FieldSpec("mask_sha256", .sha256, required: true, "SHA-256 of the lesion mask file"),
            FieldSpec("segmentation_reader", .identifier, required: true, "who drew the mask"),
            FieldSpec("segmentation_method", .choice(["manual", "semi_automatic"]), required: true, "how the mask was drawn"),
            FieldSpec("qc_status", .choice(["pass", "fail", "pending"]), required: true, "the second reader's verdict on the mask"),
            FieldSpec("qc_reader", .identifier, "the second reader (required unless qc_status is pending)"),
            FieldSpec("qc_date", .date, "date of the second reading (required unless qc_status is pending)"),
            FieldSpec("software", .text(maxLength: 128), required: true, "extraction software and version"),
            FieldSpec("settings_sha256", .sha256, required: true, "SHA-256 of the extraction parameter file"),
            FieldSpec("features", .featureVector, required: true, "feature name → {value, unit}"),
        ], observedOnField: "study_date")
        return s
    }()
}

extension FieldKind {
    /// What a value of this kind must be, in words, with its units and allowed values: `record KIND --help`.
    public var summary: String {
        func number(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }
        switch self {
        case .date: return "date YYYY-MM-DD, not after the day it is recorded"
        case .number(let r): return "number from \(number(r.lowerBound)) to \(number(r.upperBound))"
        case .integer(let r): return "whole number from \(r.lowerBound) to \(r.upperBound)"
        case .choice(let words): return "one of " + words.joined(separator: ", ")
        case .boolean: return "true or false"
        case .sha256: return "SHA-256, 64 lower-case hex digits"
        case .text(let maxLength): return "text, at most \(maxLength) characters"
        case .choiceList(let words): return "a list of distinct values from " + words.joined(separator: ", ")
        case .identifier: return "a code of 1 to 64 letters, digits, '.', '_' or '-'"
        case .quantity(let a):
            return "number with its unit (UCUM), e.g. \"\(a.example)\": \(a.unitList); possible values \(number(a.hard.lowerBound))–\(number(a.hard.upperBound)) \(a.referenceUnit), outside \(number(a.usual.lowerBound))–\(number(a.usual.upperBound)) \(a.referenceUnit) only with confirm_unusual"
        case .organ: return "ICD-O-3 topography code, one of " + PrimaryOrgan.all.map(\.code).joined(separator: ", ")
        case .featureVector: return "radiomic features: {\"<name>\": {\"value\": number, \"unit\": UCUM}, …}"
        }
    }
}
