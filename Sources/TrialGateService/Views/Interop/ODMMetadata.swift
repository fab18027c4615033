import TrialGateCore

/// The study metadata of the ODM export (CDISC ODM 1.3.2, section "MetaDataVersion"): one study event (screening),
/// a form and an item group per kind of record, an item per field with its data type, units and code list, and the
/// decision, sign-off and criterion items. Derived from `RecordSchema` and the policies published in the log, never
/// from the data, so the same log always gives the same metadata.
struct ODMMetadata {
    /// An `ItemDef`.
    struct Item {
        let oid: String
        let name: String
        let dataType: String
        let length: Int?
        let description: String
        /// `MeasurementUnitRef`s: the UCUM units a value may be recorded in.
        let units: [String]
        let codeList: String?
    }

    /// An `ItemGroupDef` (and the `FormDef` around it for a record kind).
    struct Group {
        let oid: String
        let name: String
        let description: String
        let items: [Item]
    }

    /// A `CodeList` of `EnumeratedItem`s.
    struct CodeList {
        let oid: String
        let name: String
        let values: [String]
    }

    /// The forms, in the order of `FormRef`s: one per record kind, then the decision and the withdrawal.
    static let recordTypes: [EventType] = [.candidateRegistered] + EventType.recordKinds.values.sorted { $0.rawValue < $1.rawValue }

    static let studyEventOID = "SE.SCREENING"
    static let metaDataVersionOID = "MDV.TRIALGATE"
    static let decisionForm = "F.decision.issued"
    static let decisionGroup = "IG.decision.issued"
    static let signOffGroup = "IG.decision.signed"
    static let withdrawalForm = "F.candidate.withdrawn"
    static let withdrawalGroup = "IG.candidate.withdrawn"

    static func form(_ type: EventType) -> String { "F.\(type.rawValue)" }
    static func group(_ type: EventType) -> String { "IG.\(type.rawValue)" }
    static func criteriaGroup(policy: String) -> String { "IG.criteria.\(policy)" }
    static func criterionItem(policy: String, criterion: String) -> String { "IT.criterion.\(policy).\(criterion)" }
    static func unitOID(_ ucum: String) -> String { "MU.\(ucum)" }

    /// The prefix of a record kind's item names: the fact prefix (`clinical` → `clinical.anc`), `candidate` for a
    /// registration (`candidate.site`, as the policies name it), `withdrawal` for a withdrawal.
    static func prefix(_ type: EventType) -> String {
        switch type {
        case .candidateRegistered: "candidate"
        case .candidateWithdrawn: "withdrawal"
        default: type.factPrefix ?? type.rawValue
        }
    }

    static func item(_ type: EventType, _ field: String) -> String { "IT.\(prefix(type)).\(field)" }

    /// Every field a record of `type` has had in any event schema version, newest version's definition first.
    static func fields(_ type: EventType) -> [FieldSpec] {
        var seen = Set<String>()
        var out: [FieldSpec] = []
        for version in [3, 2, 1] {
            for f in RecordSchema.of(type, version: version)?.fields ?? [] where seen.insert(f.name).inserted { out.append(f) }
        }
        return out
    }

    /// The field's definition under the schema version a record was written with, or the newest one.
    static func field(_ type: EventType, _ name: String, version: Int) -> FieldSpec? {
        RecordSchema.of(type, version: version)?.fields.first { $0.name == name } ?? fields(type).first { $0.name == name }
    }

    /// ODM data type, length, units and code list of a field (ODM 1.3.2, "ItemDef": DataType).
    static func item(for spec: FieldSpec, type: EventType) -> Item {
        let oid = item(type, spec.name)
        let name = "\(prefix(type)).\(spec.name)"
        let units = spec.unit.map { [$0] } ?? []
        switch spec.kind {
        case .date: return Item(oid: oid, name: name, dataType: "date", length: nil, description: spec.meaning, units: [], codeList: nil)
        case .number: return Item(oid: oid, name: name, dataType: "float", length: nil, description: spec.meaning, units: units, codeList: nil)
        case .integer: return Item(oid: oid, name: name, dataType: "integer", length: nil, description: spec.meaning, units: units, codeList: nil)
        case .boolean: return Item(oid: oid, name: name, dataType: "boolean", length: nil, description: spec.meaning, units: [], codeList: nil)
        case .choice: return Item(oid: oid, name: name, dataType: "text", length: nil, description: spec.meaning, units: [], codeList: "CL.\(prefix(type)).\(spec.name)")
        case .sha256: return Item(oid: oid, name: name, dataType: "text", length: 64, description: spec.meaning, units: [], codeList: nil)
        case .text(let n): return Item(oid: oid, name: name, dataType: "text", length: n, description: spec.meaning, units: [], codeList: nil)
        case .identifier: return Item(oid: oid, name: name, dataType: "text", length: 64, description: spec.meaning, units: [], codeList: nil)
        case .organ: return Item(oid: oid, name: name, dataType: "text", length: 5, description: spec.meaning, units: [], codeList: nil)
        case .quantity(let a):
            let codes = a.units.map(\.code) + (a.judgedAgainstULN ? ["{ULN}"] : [])
            // A schema-1 record of the same field was a plain number in the field's own unit.
            let legacy = a.legacyUnit.map { [$0] } ?? []
            return Item(oid: oid, name: name, dataType: "float", length: nil, description: spec.meaning,
                        units: codes + legacy.filter { !codes.contains($0) }, codeList: nil)
        case .choiceList:
            return Item(oid: oid, name: name, dataType: "text", length: nil, description: spec.meaning + " (a JSON array of the values)", units: [], codeList: nil)
        case .featureVector:
            return Item(oid: oid, name: name, dataType: "text", length: nil, description: spec.meaning + " (JSON, as recorded)", units: [], codeList: nil)
        }
    }

    var groups: [(form: String, formName: String, repeating: Bool, groups: [Group])] = []
    var codeLists: [CodeList] = []

    /// Every UCUM unit a field of any record kind may be recorded in, in any event schema version: the
    /// `MeasurementUnit`s. Derived from the schemas alone, so every page of an export knows them.
    static let units: [String] = {
        var set = Set<String>()
        for type in recordTypes + [.candidateWithdrawn] {
            for spec in fields(type) { set.formUnion(item(for: spec, type: type).units) }
            // A record keeps its schema version's unit for a plain number (schema 1's clinical values): those too.
            for version in 1...3 { for f in RecordSchema.of(type, version: version)?.fields ?? [] { if let u = f.unit { set.insert(u) } } }
        }
        return set.sorted()
    }()

    /// The metadata of a log whose published policies are `policies` and whose decisions name the criteria
    /// `decisionCriteria` (policy id → criterion ids; a forged decision may name one no policy has).
    init(policies: [PublishedPolicy], decisionCriteria: [String: Set<String>]) {
        for type in Self.recordTypes + [.candidateWithdrawn] {
            let items = Self.fields(type).map { Self.item(for: $0, type: type) }
            for spec in Self.fields(type) {
                if case .choice(let words) = spec.kind { codeLists.append(CodeList(oid: "CL.\(Self.prefix(type)).\(spec.name)", name: "\(Self.prefix(type)).\(spec.name)", values: words)) }
            }
            let group = Group(oid: Self.group(type), name: type.rawValue, description: "The fields of a \(type.rawValue) event, as recorded and as corrected", items: items)
            groups.append((Self.form(type), type.rawValue, type != .candidateRegistered && type != .candidateWithdrawn, [group]))
        }
        // Decisions: the decision's own items, the investigator's sign-off, and one group of criterion results per policy id.
        let decision = Group(oid: Self.decisionGroup, name: "decision.issued", description: "A signed screening decision", items: [
            Item(oid: "IT.decision.outcome", name: "decision.outcome", dataType: "text", length: nil, description: "the decision's outcome", units: [], codeList: "CL.decision.outcome"),
            Item(oid: "IT.decision.policy", name: "decision.policy", dataType: "text", length: nil, description: "the policy in force, id@version", units: [], codeList: nil),
            Item(oid: "IT.decision.key_id", name: "decision.key_id", dataType: "text", length: 16, description: "the trial key that signed the decision", units: [], codeList: nil),
            Item(oid: "IT.decision.signature", name: "decision.signature", dataType: "base64Binary", length: nil, description: "Ed25519 signature of the decision's RFC 8785 bytes", units: [], codeList: nil),
        ])
        let signOff = Group(oid: Self.signOffGroup, name: "decision.signed", description: "An investigator's sign-off of the decision", items: [
            Item(oid: "IT.signoff.meaning", name: "signoff.meaning", dataType: "text", length: nil, description: "what the signature means", units: [], codeList: "CL.signoff.meaning"),
            Item(oid: "IT.signoff.reason", name: "signoff.reason", dataType: "text", length: nil, description: "why (required for an override)", units: [], codeList: nil),
            Item(oid: "IT.signoff.printed_name", name: "signoff.printed_name", dataType: "text", length: nil, description: "the investigator's name as the signature shows it", units: [], codeList: nil),
            Item(oid: "IT.signoff.signed_at", name: "signoff.signed_at", dataType: "datetime", length: nil, description: "UTC time of signing", units: [], codeList: nil),
            Item(oid: "IT.signoff.signature", name: "signoff.signature", dataType: "base64Binary", length: nil, description: "Ed25519 signature of the sign-off statement", units: [], codeList: nil),
        ])
        var criteria: [Group] = []
        var byPolicy: [String: [(id: String, description: String)]] = [:]
        for p in policies {
            guard let policy = try? PolicyLoader.load(p.text) else { continue }
            for c in policy.criteria {
                if let i = byPolicy[p.id, default: []].firstIndex(where: { $0.id == c.id }) {
                    byPolicy[p.id]![i].description = c.description
                } else {
                    byPolicy[p.id, default: []].append((c.id, c.description))
                }
            }
        }
        for (policy, ids) in decisionCriteria {
            for id in ids.sorted() where !(byPolicy[policy]?.contains { $0.id == id } ?? false) {
                byPolicy[policy, default: []].append((id, "criterion \(id) (named by a decision; not in a published policy)"))
            }
        }
        for policy in byPolicy.keys.sorted() {
            criteria.append(Group(oid: Self.criteriaGroup(policy: policy), name: "criteria.\(policy)", description: "Each criterion's result under policy \(policy)",
                                  items: byPolicy[policy]!.map {
                Item(oid: Self.criterionItem(policy: policy, criterion: $0.id), name: $0.id, dataType: "text", length: nil, description: $0.description,
                     units: [], codeList: "CL.criterion.result")
            }))
        }
        groups.append((Self.decisionForm, "decision.issued", true, [decision] + criteria + [signOff]))
        codeLists += [
            CodeList(oid: "CL.decision.outcome", name: "decision.outcome", values: Outcome.allCases.map(\.rawValue)),
            CodeList(oid: "CL.criterion.result", name: "criterion.result", values: CriterionStatus.allCases.map(\.rawValue)),
            CodeList(oid: "CL.signoff.meaning", name: "signoff.meaning", values: SignOffMeaning.allCases.map(\.rawValue)),
        ]
        // The withdrawal's form goes last, as a withdrawal ends screening.
        if let i = groups.firstIndex(where: { $0.form == Self.withdrawalForm }) { groups.append(groups.remove(at: i)) }
    }

    /// `<Study>`: GlobalVariables, BasicDefinitions (the measurement units) and the MetaDataVersion.
    func write(into x: inout XMLBuilder, studyOID: String, trialID: String, logOrigin: String) {
        x.start("Study", ["OID": studyOID])
        x.start("GlobalVariables")
        x.leaf("StudyName", text: trialID)
        x.leaf("StudyDescription", text: "Screening for \(trialID): candidates, their records and corrections, and signed eligibility decisions, exported from the TrialGate log \(logOrigin)")
        x.leaf("ProtocolName", text: trialID)
        x.end()
        x.start("BasicDefinitions")
        for u in Self.units {
            x.start("MeasurementUnit", ["OID": Self.unitOID(u), "Name": u])
            x.translated("Symbol", u)
            x.end()
        }
        x.end()
        x.start("MetaDataVersion", ["OID": Self.metaDataVersionOID, "Name": "TrialGate event schemas 1-3",
                                    "Description": "Record kinds and fields of TrialGate's event schema versions 1 to 3 (docs/events.md)"])
        x.start("Protocol")
        x.empty("StudyEventRef", ["StudyEventOID": Self.studyEventOID, "Mandatory": "Yes"])
        x.end()
        x.start("StudyEventDef", ["OID": Self.studyEventOID, "Name": "Screening", "Repeating": "No", "Type": "Scheduled"])
        for g in groups { x.empty("FormRef", ["FormOID": g.form, "Mandatory": g.form == Self.form(.candidateRegistered) ? "Yes" : "No"]) }
        x.end()
        for g in groups {
            x.start("FormDef", ["OID": g.form, "Name": g.formName, "Repeating": g.repeating ? "Yes" : "No"])
            for group in g.groups { x.empty("ItemGroupRef", ["ItemGroupOID": group.oid, "Mandatory": "No"]) }
            x.end()
        }
        for g in groups.flatMap(\.groups) {
            x.start("ItemGroupDef", ["OID": g.oid, "Name": g.name, "Repeating": "No"])
            x.translated("Description", g.description)
            for item in g.items { x.empty("ItemRef", ["ItemOID": item.oid, "Mandatory": "No"]) }
            x.end()
        }
        for item in groups.flatMap(\.groups).flatMap(\.items) {
            x.start("ItemDef", ["OID": item.oid, "Name": item.name, "DataType": item.dataType, "Length": item.length.map(String.init)])
            x.translated("Description", item.description)
            for u in item.units { x.empty("MeasurementUnitRef", ["MeasurementUnitOID": Self.unitOID(u)]) }
            if let cl = item.codeList { x.empty("CodeListRef", ["CodeListOID": cl]) }
            x.end()
        }
        for cl in codeLists {
            x.start("CodeList", ["OID": cl.oid, "Name": cl.name, "DataType": "text"])
            for v in cl.values { x.empty("EnumeratedItem", ["CodedValue": v]) }
            x.end()
        }
        x.end()
        x.end()
    }
}
