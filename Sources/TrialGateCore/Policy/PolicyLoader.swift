/// Reads policy files (YAML, see `docs/policy-format.md`) into `Policy` values.
///
/// Every error names the file, the line and what is wrong; nothing partial is ever returned.
public enum PolicyLoader {
    /// Every fact name a condition of a clinical model 1 policy may use.
    public static let knownFacts: Set<String> = {
        var names: Set<String> = ["grade", "clinical.prior_therapy_types", "candidate.site"]
        for type in EventType.allCases where type != .pathologyRecorded && type != .attestationRecorded {
            guard let prefix = type.factPrefix, let schema = RecordSchema.of(type, version: 1) else { continue }
            for f in schema.fields { names.insert("\(prefix).\(f.name)") }
        }
        return names
    }()

    /// Every fact name a condition of a clinical model 2 policy may use (and `attestation.<criterion>`).
    public static let knownFactsModel2: Set<String> = {
        var names: Set<String> = ["grade", "grading_rule", "primary_site", "clinical.prior_therapy_types", "candidate.site",
                                  "clinical.bilirubin_x_uln", "mitotic_count.per_2mm2"]
        for type in EventType.allCases where type != .attestationRecorded {
            guard let prefix = type.factPrefix, let schema = RecordSchema.of(type, version: 2) else { continue }
            for f in schema.fields where f.name != "confirm_unusual" { names.insert("\(prefix).\(f.name)") }
        }
        return names
    }()

    /// The analyte a model 2 fact measures, if it is a quantity with a unit.
    static func analyte(ofFact fact: String) -> Analyte? {
        guard fact.hasPrefix("clinical.") else { return nil }
        return Analyte.named(String(fact.dropFirst("clinical.".count)))
    }

    /// Parses and validates a policy.
    /// - Parameters:
    ///   - text: the policy file's contents.
    ///   - file: the name used in error messages.
    /// - Throws: `invalid_policy` with `file:line: what is wrong`.
    public static func load(_ text: String, file: String = "policy") throws -> Policy {
        let root = try YAMLNode.parse(text, file: file)
        var m = try root.mapping("the policy")
        let id = try m.required("policy").text("policy")
        do { try RecordSchema.validateIdentifier(id, what: "policy id") } catch let e as TrialGateError {
            throw root.error(e.message)
        }
        let version = try m.required("version").text("version")
        guard !version.isEmpty else { throw root.error("version must not be empty") }
        let title = try m.optional("title")?.text("title") ?? id
        var model = ClinicalModel.entryOrder
        if let modelNode = m.optional("clinical_model") {
            let n = try modelNode.integer("clinical_model")
            guard let chosen = ClinicalModel(rawValue: n) else { throw modelNode.error("clinical_model must be 1 or 2, not \(n)") }
            model = chosen
        }
        let criteriaNode = try m.required("criteria")
        try m.finish(allowed: ["policy", "version", "title", "clinical_model", "criteria"])
        var criteria: [Criterion] = []
        for item in try criteriaNode.sequence("criteria") {
            let c = try criterion(item, model: model)
            if criteria.contains(where: { $0.id == c.id }) { throw item.error("criterion id \"\(c.id)\" is used twice") }
            criteria.append(c)
        }
        if criteria.isEmpty { throw criteriaNode.error("a policy needs at least one criterion") }
        return Policy(id: id, version: version, title: title, criteria: criteria, clinicalModel: model)
    }

    private static func criterion(_ node: YAMLNode, model: ClinicalModel) throws -> Criterion {
        var m = try node.mapping("a criterion")
        let id = try m.required("id").text("id")
        let kindText = try m.required("kind").text("kind")
        guard let kind = CriterionKind(rawValue: kindText) else {
            throw node.error("criterion \(id): kind must be inclusion or exclusion, not \"\(kindText)\"")
        }
        let description = try m.required("description").text("description")
        let source = try m.required("source").text("source")
        let enabled = try m.optional("enabled").map { n -> Bool in
            guard let b = try n.json("enabled").boolValue else { throw n.error("criterion \(id): enabled must be true or false") }
            return b
        } ?? true
        if let statementNode = m.optional("attestation") {
            let statement = try statementNode.text("attestation")
            guard model == .observationTime else { throw statementNode.error("criterion \(id): attestation criteria need clinical_model: 2") }
            guard !m.keys.contains("when") else { throw statementNode.error("criterion \(id): give either when or attestation, not both") }
            do { try RecordSchema.validateIdentifier(id, what: "an attested criterion's id") } catch let e as TrialGateError { throw node.error(e.message) }
            try m.finish(allowed: ["id", "kind", "description", "source", "enabled", "attestation"])
            return Criterion(id: id, kind: kind, description: description, source: source, condition: .attested(criterion: id),
                             enabled: enabled, attestation: statement)
        }
        let when = try m.required("when")
        try m.finish(allowed: ["id", "kind", "description", "source", "enabled", "when"])
        return Criterion(id: id, kind: kind, description: description, source: source,
                         condition: try condition(when, criterion: id, model: model), enabled: enabled)
    }

    private static let leafKeys = ["fact", "eq", "ne", "lt", "lte", "gt", "gte", "in", "within_days", "within_months", "threshold", "grey_zone",
                                   "max_age_days", "present", "unit"]

    static func condition(_ node: YAMLNode, criterion: String, model: ClinicalModel = .entryOrder) throws -> Condition {
        var m = try node.mapping("criterion \(criterion): a condition")
        let keys = m.keys
        if keys == ["all"] || keys == ["any"] {
            let items = try m.required(keys[0]).sequence("\(keys[0])").map { try condition($0, criterion: criterion, model: model) }
            if items.isEmpty { throw node.error("criterion \(criterion): \(keys[0]) needs at least one condition") }
            return keys[0] == "all" ? .all(items) : .any(items)
        }
        if keys == ["not"] { return .not(try condition(try m.required("not"), criterion: criterion, model: model)) }
        if keys.contains("model") { return try modelGate(&m, node, criterion: criterion) }
        if keys == ["present"] {
            let fact = try m.required("present").text("present")
            try checkFact(fact, node, criterion, model)
            return .present(fact: fact, maxAgeDays: nil)
        }
        let factNode = try m.required("fact")
        let fact = try factNode.text("fact")
        try checkFact(fact, factNode, criterion, model)
        let maxAge = try m.optional("max_age_days").map { n -> Int in
            let d = try n.integer("max_age_days")
            if d < 0 { throw n.error("criterion \(criterion): max_age_days must not be negative") }
            return d
        }
        let unitNode = m.optional("unit")
        let unit = try unitNode?.text("unit")
        let ops = keys.filter { $0 != "fact" && $0 != "max_age_days" && $0 != "unit" }
        for (k, v) in m.entries where !leafKeys.contains(k) {
            throw v.error("criterion \(criterion): unknown key \"\(k)\" in a condition (allowed: all, any, not, \(leafKeys.joined(separator: ", ")))")
        }
        if ops.isEmpty { throw node.error("criterion \(criterion): say what to test about \(fact) (eq, lt, in, within_days, threshold, present…)") }
        if let op = ops.compactMap(Comparison.init(rawValue:)).first, ops.count == 1 {
            return try comparison(op, &m, fact: fact, maxAge: maxAge, unit: unit, unitNode: unitNode, criterion: criterion, model: model)
        }
        return try factTest(ops, &m, node, fact: fact, maxAge: maxAge, unitNode: unitNode, criterion: criterion, model: model)
    }

    /// A comparison (`eq`, `ne`, `lt`, `lte`, `gt`, `gte`) of a fact with a value, in a unit for a quantity of clinical model 2.
    private static func comparison(_ op: Comparison, _ m: inout YAMLMapping, fact: String, maxAge: Int?, unit: String?, unitNode: YAMLNode?,
                                   criterion: String, model: ClinicalModel) throws -> Condition {
        let valueNode = try m.required(op.rawValue)
        let value = try valueNode.json(op.rawValue)
        if op != .eq && op != .ne && value.numberValue == nil {
            throw valueNode.error("criterion \(criterion): \(op.rawValue) needs a number")
        }
        if model == .observationTime, let analyte = analyte(ofFact: fact) {
            guard let unit, let unitNode else {
                throw valueNode.error("criterion \(criterion): \(fact) is a quantity; say the unit of \(CanonicalJSON.string(value)) with unit: (one of \(analyte.unitList))")
            }
            guard analyte.factor(unit) != nil else {
                throw unitNode.error("criterion \(criterion): \(unit) is not a unit of \(fact) (expected \(analyte.units.map(\.code).joined(separator: ", ")))")
            }
            return .compare(fact: fact, op: op, value: value, maxAgeDays: maxAge, unit: unit)
        }
        if let unitNode { throw unitNode.error("criterion \(criterion): \(fact) has no unit (unit: applies to the lab values of clinical_model 2)") }
        return .compare(fact: fact, op: op, value: value, maxAgeDays: maxAge)
    }

    /// A test of a fact other than a comparison: `in`, `present`, `within_days`, `within_months`, or a score's
    /// `threshold` (with a `grey_zone`).
    private static func factTest(_ ops: [String], _ m: inout YAMLMapping, _ node: YAMLNode, fact: String, maxAge: Int?, unitNode: YAMLNode?,
                                 criterion: String, model: ClinicalModel) throws -> Condition {
        if let unitNode { throw unitNode.error("criterion \(criterion): unit: goes with a comparison (eq, lt, lte, gt, gte)") }
        if model == .observationTime, analyte(ofFact: fact) != nil, ops != ["present"] {
            throw node.error("criterion \(criterion): \(fact) is a quantity with a unit; test it with a comparison (eq, lt, lte, gt, gte) and unit:, not \(ops.joined(separator: ", "))")
        }
        if ops == ["in"] {
            let values = try m.required("in").sequence("in").map { try $0.json("in") }
            if values.isEmpty { throw node.error("criterion \(criterion): in needs at least one value") }
            return .member(fact: fact, values: values, maxAgeDays: maxAge)
        }
        if ops == ["present"] {
            guard try m.required("present").json("present").boolValue == true else {
                throw node.error("criterion \(criterion): write `present: true`, or use `not` for absence")
            }
            return .present(fact: fact, maxAgeDays: maxAge)
        }
        if ops == ["within_days"] {
            let n = try m.required("within_days")
            let days = try n.integer("within_days")
            if days < 0 { throw n.error("criterion \(criterion): within_days must not be negative") }
            if maxAge != nil { throw node.error("criterion \(criterion): within_days already limits age; drop max_age_days") }
            return .withinDays(fact: fact, days: days)
        }
        if ops == ["within_months"] {
            let n = try m.required("within_months")
            let months = try n.integer("within_months")
            if months < 0 { throw n.error("criterion \(criterion): within_months must not be negative") }
            if maxAge != nil { throw node.error("criterion \(criterion): within_months already limits age; drop max_age_days") }
            return .withinMonths(fact: fact, months: months)
        }
        if Set(ops) == ["threshold", "grey_zone"] || ops == ["threshold"] {
            let t = try m.required("threshold").number("threshold")
            var low = t, high = t
            if let gz = m.optional("grey_zone") {
                let bounds = try gz.sequence("grey_zone")
                guard bounds.count == 2 else { throw gz.error("criterion \(criterion): grey_zone is [low, high]") }
                low = try bounds[0].number("grey_zone low")
                high = try bounds[1].number("grey_zone high")
                guard low <= t, t <= high else {
                    throw gz.error("criterion \(criterion): grey_zone [\(low), \(high)] must contain the threshold \(t)")
                }
            }
            return .scoreGate(fact: fact, threshold: t, greyLow: low, greyHigh: high, maxAgeDays: maxAge)
        }
        throw node.error("criterion \(criterion): cannot combine \(ops.joined(separator: ", ")) in one condition; use all/any")
    }

    /// A model gate: `{model: ID, versions: [V…], require_qc: true, contrast_phase: P, max_age_days: N}`.
    private static func modelGate(_ m: inout YAMLMapping, _ node: YAMLNode, criterion: String) throws -> Condition {
        let allowed = ["model", "versions", "require_qc", "contrast_phase", "max_age_days"]
        for (k, v) in m.entries where !allowed.contains(k) {
            throw v.error("criterion \(criterion): unknown key \"\(k)\" in a model gate (allowed: \(allowed.joined(separator: ", ")))")
        }
        let idNode = try m.required("model")
        let id = try idNode.text("model")
        do { try RecordSchema.validateIdentifier(id, what: "model id") } catch let e as TrialGateError { throw idNode.error("criterion \(criterion): \(e.message)") }
        let versionsNode = try m.required("versions")
        let versions = try versionsNode.sequence("versions").map { try $0.text("versions") }
        if versions.isEmpty || Set(versions).count != versions.count {
            throw versionsNode.error("criterion \(criterion): versions must list the accepted model versions, each once")
        }
        var requireQC = true
        if let q = m.optional("require_qc") {
            guard let b = try q.json("require_qc").boolValue else { throw q.error("criterion \(criterion): require_qc is true or false") }
            requireQC = b
        }
        let phaseNode = m.optional("contrast_phase")
        let phase = try phaseNode?.text("contrast_phase")
        if let phase, let phaseNode, !RegisteredModel.contrastPhases.contains(phase) {
            throw phaseNode.error("criterion \(criterion): contrast_phase must be one of \(RegisteredModel.contrastPhases.joined(separator: ", ")), got \"\(phase)\"")
        }
        let maxAge = try m.optional("max_age_days").map { n -> Int in
            let d = try n.integer("max_age_days")
            if d < 0 { throw n.error("criterion \(criterion): max_age_days must not be negative") }
            return d
        }
        return .model(ModelGate(model: id, versions: versions, requireQC: requireQC, contrastPhase: phase, maxAgeDays: maxAge))
    }

    private static func checkFact(_ fact: String, _ node: YAMLNode, _ criterion: String, _ model: ClinicalModel) throws {
        let known = model == .entryOrder ? knownFacts : knownFactsModel2
        if model == .observationTime, fact.hasPrefix("attestation.") {
            let id = String(fact.dropFirst("attestation.".count))
            do { try RecordSchema.validateIdentifier(id, what: "attested criterion") } catch let e as TrialGateError { throw node.error("criterion \(criterion): \(e.message)") }
            return
        }
        if !known.contains(fact) {
            let near = known.filter { $0.hasPrefix(fact.split(separator: ".").first.map(String.init) ?? fact) }.sorted()
            throw node.error("criterion \(criterion): unknown fact \"\(fact)\"" + (near.isEmpty ? "" : " (did you mean one of \(near.joined(separator: ", "))?)"))
        }
    }
}
