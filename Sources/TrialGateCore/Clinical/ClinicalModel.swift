/// How a policy reads a candidate's records into facts. A policy names its model (`clinical_model`), so the
/// facts a decision was made on are re-derived the same way for as long as the log exists.
public enum ClinicalModel: Int, Sendable {
    /// Policies written before models existed: each field's newest *entry* wins, every NET is graded by the
    /// GI rule with 10 HPF taken as 2 mm², lab values are bare numbers in fixed units.
    case entryOrder = 1
    /// Each field's newest *observation* wins (specimen, study, assessment date; entry order only breaks a tie),
    /// NETs are graded by the rule of their primary organ, lab values carry UCUM units, pathology and
    /// attestations are facts.
    case observationTime = 2
}

/// The facts of one candidate under a clinical model, and the values that lost.
public struct CurrentFacts: Sendable, Equatable {
    public var facts: [String: Fact]
    /// Values given for a fact that another record's value supersedes (model 2 only).
    public var superseded: [SupersededFact]
}

extension CandidateState {
    /// The current facts under `model`.
    public func facts(model: ClinicalModel) -> [String: Fact] {
        model == .entryOrder ? facts() : observedFacts().facts
    }

    /// The current facts and what they superseded under `model`.
    public func currentFacts(model: ClinicalModel) -> CurrentFacts {
        model == .entryOrder ? CurrentFacts(facts: facts(), superseded: []) : observedFacts()
    }

    /// Clinical model 2: for each fact the value with the latest observation date wins; on the same date the
    /// later entry wins. Corrections are applied first (a corrected date moves the record). Every other value
    /// given for a fact is listed as superseded by the one in force.
    func observedFacts() -> CurrentFacts {
        struct Offer {
            let name: String
            let fact: Fact
            let key: (date: Int, seq: Int64)
        }
        var offers: [Offer] = []
        for record in records.dropFirst() {
            guard let prefix = record.type.factPrefix, let schema = RecordSchema.of(record.type, version: record.schemaVersion),
                case .object(let members) = record.current
            else { continue }
            let observed = schema.observedOnField.flatMap { members[$0]?.stringValue }.flatMap(CivilDate.init)
            let evidence = [record.seq] + record.corrections.map(\.seq)
            for (name, value, unit) in Self.entries(record, prefix: prefix, members: members) {
                // A documented progression is an observation of its own date, whichever study reports it.
                let on = name == "imaging.progression_date" ? value.stringValue.flatMap(CivilDate.init) ?? observed : observed
                offers.append(Offer(name: name, fact: Fact(value: value, evidence: evidence, observedOn: on, unit: unit),
                                    key: (on?.daysSinceEpoch ?? Int.min, record.seq)))
            }
        }
        var winners: [String: Offer] = [:]
        for offer in offers {
            if let held = winners[offer.name], (offer.key.date, offer.key.seq) < (held.key.date, held.key.seq) { continue }
            winners[offer.name] = offer
        }
        var out = CurrentFacts(facts: winners.mapValues(\.fact), superseded: [])
        out.facts["candidate.site"] = Fact(value: .string(site), evidence: [records[0].seq] + records[0].corrections.map(\.seq), observedOn: nil)
        for offer in offers {
            guard let winner = winners[offer.name], winner.key.seq != offer.key.seq else { continue }
            let why = offer.fact.observedOn != winner.fact.observedOn
                ? "observed \(offer.fact.observedOn?.description ?? "on no date"), before event \(winner.key.seq)'s \(winner.fact.observedOn?.description ?? "?")"
                : "observed the same day as event \(winner.key.seq), and entered before it"
            out.superseded.append(SupersededFact(fact: offer.name, value: offer.fact.value, unit: offer.fact.unit, seq: offer.key.seq,
                                                 observedOn: offer.fact.observedOn, bySeq: winner.key.seq, why: why))
        }
        Self.derive(&out.facts)
        out.superseded.sort { ($0.fact, $0.seq) < ($1.fact, $1.seq) }
        return out
    }

    /// The facts one record gives, with units: quantities as `(number, unit)`, the derived per-record values
    /// (`clinical.bilirubin_x_uln`, `mitotic_count.per_2mm2`), and an attestation as `attestation.<criterion>`.
    static func entries(_ record: RecordEntry, prefix: String, members: [String: JSONValue]) -> [(String, JSONValue, String?)] {
        if record.type == .attestationRecorded {
            guard let criterion = members["criterion"]?.stringValue, let result = members["result"] else { return [] }
            return [("attestation.\(criterion)", result, nil)]
        }
        var out: [(String, JSONValue, String?)] = []
        // A radiomics record's feature vector is evidence for a model gate, which reads the record itself, not a fact.
        for (field, value) in members where value != .null && field != "confirm_unusual" && !(record.type == .radiomicsRecorded && field == "features") {
            let name = "\(prefix).\(field)"
            let analyteName = field.hasSuffix("_upper_limit") ? String(field.dropLast("_upper_limit".count)) : field
            if record.type == .clinicalRecorded, let a = Analyte.named(analyteName) {
                if let n = value.numberValue, let unit = a.legacyUnit {
                    out.append((name, .number(n), unit))
                } else if let text = value.stringValue, let q = Quantity(text) {
                    out.append((name, .number(q.value), q.unit))
                }
                continue
            }
            out.append((name, value, nil))
        }
        if record.type == .clinicalRecorded {
            if record.schemaVersion == 1, let ratio = members["bilirubin_uln"]?.numberValue {
                out.append(("clinical.bilirubin_x_uln", .number(ratio), nil))
            }
            if let ratio = Self.ulnMultiple(members, "bilirubin") { out.append(("clinical.bilirubin_x_uln", .number(ratio), nil)) }
        }
        if record.type == .mitoticCountRecorded, let count = members["count"]?.numberValue {
            // Schema 1 took 10 HPF as 2 mm²; schema 2 states the field area with a count per 10 HPF.
            var per2mm2 = count
            if members["unit"]?.stringValue == "per_10hpf", let area = members["hpf_area_mm2"]?.numberValue, area > 0 {
                per2mm2 = Quantity.round9(count * 2 / (10 * area))
            }
            out.append(("mitotic_count.per_2mm2", .number(per2mm2), nil))
        }
        return out
    }

    /// An analyte as a multiple of its laboratory's upper limit of normal, from one record.
    static func ulnMultiple(_ m: [String: JSONValue], _ field: String) -> Double? {
        guard let a = Analyte.named(field), let text = m[field]?.stringValue, let q = Quantity(text) else { return nil }
        return a.multipleOfUpperLimit(q, limit: m["\(field)_upper_limit"]?.stringValue.flatMap(Quantity.init))
    }

    /// Facts computed from others: primary site and grading rule from the organ, the grade, the count of
    /// prior therapy types.
    static func derive(_ facts: inout [String: Fact]) {
        let organFact = facts["pathology.primary_organ"]
        let organ = organFact?.value.stringValue.flatMap(PrimaryOrgan.named)
        if let organ, let organFact {
            facts["primary_site"] = Fact(value: .string(organ.site), evidence: organFact.evidence, observedOn: organFact.observedOn)
            facts["grading_rule"] = Fact(value: .string(organ.gradingRule.rawValue), evidence: organFact.evidence, observedOn: organFact.observedOn)
        } else if let legacy = facts["clinical.primary_site"] {
            facts["primary_site"] = legacy
        }
        // Necrosis counts only as found on the specimen the organ in force comes from: an older specimen's finding
        // does not grade a newer one.
        let necrosis = facts["pathology.necrosis"].flatMap { $0.evidence.first == organFact?.evidence.first ? $0 : nil }
        if let organ, let organFact, let grade = grade(organ.gradingRule, facts, necrosis: necrosis) {
            var evidence = Set(organFact.evidence).union(grade.evidence)
            if organ.gradingRule == .thoracic, let n = necrosis { evidence.formUnion(n.evidence) }
            facts["grade"] = Fact(value: .string("G\(grade.grade)"), evidence: evidence.sorted(), observedOn: grade.observed)
        }
        countPriorTherapyTypes(&facts)
    }

    private static func grade(_ rule: GradingRule, _ facts: [String: Fact], necrosis: Fact?) -> (grade: Int, evidence: [Int64], observed: CivilDate?)? {
        var tally = GradeTally()
        let mitoses = facts["mitotic_count.per_2mm2"]
        switch rule {
        case .gastrointestinal:
            if let f = facts["ki67.percent"], let v = f.value.numberValue { tally.take(NETGrade.fromKi67(v), f) }
            if let f = mitoses, let v = f.value.numberValue { tally.take(NETGrade.fromMitoses(v), f) }
        case .thoracic:
            guard let f = mitoses, let v = f.value.numberValue else { return nil }
            guard let g = NETGrade.thoracic(mitoses: v, necrosis: necrosis?.value.stringValue.map { $0 == "present" }) else { return nil }
            tally.take(g, f)
        }
        return tally.grade > 0 ? (tally.grade, tally.evidence, tally.observed) : nil
    }
}
