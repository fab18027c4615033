import TrialGateCore

/// The log as a CDISC ODM 1.3.2 document (`export --format odm`): the study metadata (`ODMMetadata`), the users and
/// sites (AdminData), and every candidate as a `SubjectData` with each record, correction, decision, sign-off and
/// withdrawal as ODM transactions with their `AuditRecord`s.
///
/// The file is `Transactional` (ODM 1.3.2, "FileType"): a snapshot shows only the current values, and a correction
/// must leave the value it replaced visible (21 CFR 11.10(e)); so each record's values are an `Insert` and each
/// correction after them an `Update` (or a `Remove` of a value withdrawn, or an `Insert` of a value added), in log
/// order, each with who, where, when, why and the event's seq (`SourceID`). The document is split into pages of
/// candidates so that a reply stays bounded: the first page opens the document, the last closes it, and the pages
/// joined in order are the document. Everything is derived from the log folded up to one size, and the creation
/// time is the latest time stamp the file shows, so the same log gives the same bytes.
enum ODMExport {
    /// What the document's opening needs: the log folded up to the size exported, and the times of its first and newest
    /// events (the trial's start, the metadata's effective date; and the file's time).
    struct Context {
        let state: LogState
        let trialStarted: UTCTimestamp
        let head: UTCTimestamp

        var trialID: String { state.trial?.trialID ?? "unknown" }
        var studyOID: String { ODMExport.studyOID(trialID) }
    }

    static func studyOID(_ trialID: String) -> String { "ST.\(trialID)" }
    static let units = Set(ODMMetadata.units)

    static func userOID(_ name: String) -> String { "USR.\(name)" }
    static func locationOID(_ site: String) -> String { "LOC.\(site)" }

    /// The XML declaration, the `ODM` root, the `Study`, the `AdminData` of `candidates` (the users and sites their
    /// data names) and the opening of `ClinicalData`.
    static func prologue(_ ctx: Context, candidates: [CandidateState]) -> String {
        var x = XMLBuilder()
        // The file's time: its newest event's, or a later time stamp of an earlier event (the log's clock is the writer's,
        // and is not required to increase), so that every DateTimeStamp in the file is at or before it.
        let created = candidates.reduce(ctx.head) { latest, c in max(latest, newestTime(of: c)) }
        let text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x.start("ODM", ["xmlns": "http://www.cdisc.org/ns/odm/v1.3", "ODMVersion": "1.3.2", "FileType": "Transactional",
                        "FileOID": "TRIALGATE.\(ctx.trialID).\(ctx.state.size)", "CreationDateTime": created.description,
                        "AsOfDateTime": created.description, "Originator": "TrialGate", "SourceSystem": "TrialGate",
                        "SourceSystemVersion": "log \(ctx.state.trial?.logOrigin ?? "") size \(ctx.state.size) head \(ctx.state.headHash)"])
        var criteria: [String: Set<String>] = [:]
        for c in ctx.state.candidates.values { for d in c.decisions { criteria[d.policyID, default: []].formUnion(d.results.keys) } }
        ODMMetadata(policies: ctx.state.policies, decisionCriteria: criteria)
            .write(into: &x, studyOID: ctx.studyOID, trialID: ctx.trialID, logOrigin: ctx.state.trial?.logOrigin ?? "")
        var users = Set<String>(), sites = Set<String>()
        for c in candidates {
            users.formUnion(actors(of: c))
            sites.formUnion(c.records[0].corrections.filter { $0.field == "site" }.compactMap { $0.newValue.stringValue })
            sites.formUnion([Registration.site(c.records[0].original), c.site])
        }
        x.start("AdminData", ["StudyOID": ctx.studyOID])
        for u in users.sorted() {
            let account = ctx.state.users[u]
            let type: String? = switch account?.role { case .investigator: "Investigator"; case .sponsor: "Sponsor"; default: "Other" }
            x.start("User", ["OID": userOID(u), "UserType": type])
            x.leaf("LoginName", text: u)
            if let printed = account?.printedName { x.leaf("DisplayName", text: printed) }
            x.end()
        }
        for s in sites.sorted() {
            x.start("Location", ["OID": locationOID(s), "Name": s.isEmpty ? "(none)" : s, "LocationType": "Site"])
            x.empty("MetaDataVersionRef", ["StudyOID": ctx.studyOID, "MetaDataVersionOID": ODMMetadata.metaDataVersionOID,
                                           "EffectiveDate": ctx.trialStarted.date.description])
            x.end()
        }
        for m in SignOffMeaning.allCases {
            x.start("SignatureDef", ["OID": "SD.\(m.rawValue)", "Methodology": "Digital"])
            x.leaf("Meaning", text: "Investigator's sign-off of a screening decision: \(m.rawValue.replacing("_", with: " "))")
            x.leaf("LegalReason", text: "21 CFR 11.50 and 11.70: an Ed25519 signature of the sign-off statement by the investigator's own key")
            x.end()
        }
        x.end()
        x.start("ClinicalData", ["StudyOID": ctx.studyOID, "MetaDataVersionOID": ODMMetadata.metaDataVersionOID])
        // `ODM` and `ClinicalData` stay open: `epilogue` closes them after the last page's subjects.
        return text + x.text
    }

    /// What closes the document after the last page's subjects.
    static let epilogue = "  </ClinicalData>\n</ODM>\n"

    /// The latest time stamp among the events `c`'s subject data shows.
    static func newestTime(of c: CandidateState) -> UTCTimestamp {
        var times = c.records.flatMap { [$0.timestamp] + $0.corrections.map(\.timestamp) }
        times += c.decisions.map(\.timestamp) + c.signOffs.map(\.timestamp) + (c.withdrawal.map { [$0.timestamp] } ?? [])
        return times.max()!
    }

    /// Everyone who wrote something `c`'s subject data shows.
    static func actors(of c: CandidateState) -> Set<String> {
        var out = Set<String>()
        for r in c.records { out.insert(r.actor); for k in r.corrections { out.insert(k.actor) } }
        for d in c.decisions { out.insert(d.actor) }
        for s in c.signOffs { out.insert(s.signer) }
        if let w = c.withdrawal { out.insert(w.actor) }
        return out
    }

    /// The `SubjectData` of one candidate (and, after a correction of its site, a `SubjectData` update moving it).
    static func subject(_ c: CandidateState) -> String {
        var x = XMLBuilder(depth: 2)
        let registration = c.records[0]
        let siteMoves = registration.corrections.filter { $0.field == "site" }
        /// The candidate's site at event `seq`: where the data was entered.
        func site(at seq: Int64) -> String {
            siteMoves.last { $0.seq <= seq }?.newValue.stringValue ?? Registration.site(registration.original)
        }
        func audit(actor: String, at time: UTCTimestamp, seq: Int64, reason: String? = nil) {
            x.start("AuditRecord")
            x.empty("UserRef", ["UserOID": userOID(actor)])
            x.empty("LocationRef", ["LocationOID": locationOID(site(at: seq))])
            x.leaf("DateTimeStamp", text: time.description)
            if let reason { x.leaf("ReasonForChange", text: reason) }
            x.leaf("SourceID", text: String(seq))
            x.end()
        }
        func itemData(_ oid: String, _ value: JSONValue, spec: FieldSpec?, transaction: String?, audit write: () -> Void) {
            let (text, unit) = split(value, spec: spec, units: units)
            x.start("ItemData", ["ItemOID": oid, "TransactionType": transaction, "Value": text])
            write()
            if let unit { x.empty("MeasurementUnitRef", ["MeasurementUnitOID": ODMMetadata.unitOID(unit)]) }
            x.end()
        }

        x.start("SubjectData", ["SubjectKey": c.id, "TransactionType": "Insert"])
        audit(actor: registration.actor, at: registration.timestamp, seq: registration.seq)
        x.empty("SiteRef", ["LocationOID": locationOID(Registration.site(registration.original))])
        x.start("StudyEventData", ["StudyEventOID": ODMMetadata.studyEventOID])
        var repeatKeys: [String: Int] = [:]
        func nextKey(_ form: String) -> String {
            repeatKeys[form, default: 0] += 1
            return String(repeatKeys[form]!)
        }
        var decisionKeys: [Int64: String] = [:]
        // Forms in log order: records, decisions, sign-offs and the withdrawal.
        var forms: [(seq: Int64, write: () -> Void)] = []
        for record in c.records {
            forms.append((record.seq, {
                let form = ODMMetadata.form(record.type)
                let repeating = record.type != .candidateRegistered
                x.start("FormData", ["FormOID": form, "FormRepeatKey": repeating ? nextKey(form) : nil])
                x.start("ItemGroupData", ["ItemGroupOID": ODMMetadata.group(record.type)])
                let members = record.original.objectValue ?? [:]
                for key in members.keys.sorted() where members[key] != .null {
                    itemData(ODMMetadata.item(record.type, key), members[key]!, spec: ODMMetadata.field(record.type, key, version: record.schemaVersion),
                             transaction: nil) { audit(actor: record.actor, at: record.timestamp, seq: record.seq) }
                }
                // Each correction after the values it changes: the value it replaced stays in the document above it.
                var current = members
                for k in record.corrections {
                    let had = current[k.field].map { $0 != .null } ?? false
                    let transaction = k.newValue == .null ? "Remove" : had ? "Update" : "Insert"
                    let oid = ODMMetadata.item(record.type, k.field)
                    if k.newValue == .null {
                        x.start("ItemData", ["ItemOID": oid, "TransactionType": transaction])
                        audit(actor: k.actor, at: k.timestamp, seq: k.seq, reason: k.reason)
                        x.end()
                    } else {
                        itemData(oid, k.newValue, spec: ODMMetadata.field(record.type, k.field, version: record.schemaVersion), transaction: transaction) {
                            audit(actor: k.actor, at: k.timestamp, seq: k.seq, reason: k.reason)
                        }
                    }
                    current[k.field] = k.newValue
                }
                x.end()
                x.end()
            }))
        }
        for d in c.decisions {
            forms.append((d.seq, {
                let key = nextKey(ODMMetadata.decisionForm)
                decisionKeys[d.seq] = key
                x.start("FormData", ["FormOID": ODMMetadata.decisionForm, "FormRepeatKey": key])
                x.start("ItemGroupData", ["ItemGroupOID": ODMMetadata.decisionGroup])
                for (oid, value) in [("IT.decision.outcome", d.outcome), ("IT.decision.policy", d.policyName), ("IT.decision.key_id", d.keyID),
                                     ("IT.decision.signature", d.signature)] {
                    itemData(oid, .string(value), spec: nil, transaction: nil) { audit(actor: d.actor, at: d.timestamp, seq: d.seq) }
                }
                x.end()
                x.start("ItemGroupData", ["ItemGroupOID": ODMMetadata.criteriaGroup(policy: d.policyID)])
                for id in d.results.keys.sorted() {
                    itemData(ODMMetadata.criterionItem(policy: d.policyID, criterion: id), .string(d.results[id]!), spec: nil, transaction: nil) {
                        audit(actor: d.actor, at: d.timestamp, seq: d.seq)
                    }
                }
                x.end()
                x.end()
            }))
        }
        for s in c.signOffs {
            forms.append((s.seq, {
                // The sign-off adds the investigator's signature (ODM "Signature", its meaning a SignatureDef) to the decision's form.
                x.start("FormData", ["FormOID": ODMMetadata.decisionForm, "FormRepeatKey": decisionKeys[s.decisionSeq] ?? "0", "TransactionType": "Update"])
                // An ID (xs:ID, unique in the document: the event's seq) as odmlib's model requires; the schema allows it.
                x.start("Signature", ["ID": "SIG.\(s.seq)"])
                x.empty("UserRef", ["UserOID": userOID(s.signer)])
                x.empty("LocationRef", ["LocationOID": locationOID(site(at: s.seq))])
                x.empty("SignatureRef", ["SignatureOID": "SD.\(s.meaning.rawValue)"])
                // When the log recorded the signature (the signer's own `signed_at` is an item below, and may be up to
                // five minutes later than the log's time, so past the file's creation time).
                x.leaf("DateTimeStamp", text: s.timestamp.description)
                x.end()
                x.start("ItemGroupData", ["ItemGroupOID": ODMMetadata.signOffGroup, "TransactionType": "Insert"])
                var values: [(String, String)] = [("IT.signoff.meaning", s.meaning.rawValue)]
                if let reason = s.reason { values.append(("IT.signoff.reason", reason)) }
                values += [("IT.signoff.printed_name", s.printedName), ("IT.signoff.signed_at", s.signedAt.description), ("IT.signoff.signature", s.signature)]
                for (oid, value) in values {
                    itemData(oid, .string(value), spec: nil, transaction: nil) { audit(actor: s.signer, at: s.timestamp, seq: s.seq) }
                }
                x.end()
                x.end()
            }))
        }
        if let w = c.withdrawal {
            forms.append((w.seq, {
                x.start("FormData", ["FormOID": ODMMetadata.withdrawalForm])
                x.start("ItemGroupData", ["ItemGroupOID": ODMMetadata.withdrawalGroup])
                // The CONSORT category (absent on a withdrawal recorded before categories existed) and the words beside it.
                let values = [("category", w.category?.rawValue), ("reason", w.reason)].compactMap { name, value in value.map { (name, $0) } }
                for (name, value) in values {
                    itemData(ODMMetadata.item(.candidateWithdrawn, name), .string(value), spec: nil, transaction: nil) {
                        audit(actor: w.actor, at: w.timestamp, seq: w.seq)
                    }
                }
                x.end()
                x.end()
            }))
        }
        for f in forms.sorted(by: { $0.seq < $1.seq }) { f.write() }
        x.end()
        x.end()
        // A corrected site moves the subject: an update of its SiteRef, with the correction's audit record.
        for move in siteMoves {
            guard let site = move.newValue.stringValue else { continue }
            x.start("SubjectData", ["SubjectKey": c.id, "TransactionType": "Update"])
            audit(actor: move.actor, at: move.timestamp, seq: move.seq, reason: move.reason)
            x.empty("SiteRef", ["LocationOID": locationOID(site)])
            x.end()
        }
        return x.text
    }

    /// An `ItemData` value as recorded and its unit: a quantity's number and its UCUM unit as entered, a plain number
    /// with its field's unit, a string as it is, a boolean as `true`/`false`, a list or object as its RFC 8785 JSON.
    static func split(_ value: JSONValue, spec: FieldSpec?, units: Set<String>) -> (text: String, unit: String?) {
        switch value {
        case .string(let s):
            if case .quantity? = spec?.kind, let space = s.firstIndex(of: " "), Quantity(s) != nil {
                let unit = String(s[s.index(after: space)...])
                if units.contains(unit) { return (String(s[..<space]), unit) }
            }
            return (s, nil)
        case .number(let n):
            return (CanonicalJSON.formatNumber(n), spec?.unit.flatMap { units.contains($0) ? $0 : nil })
        case .bool(let b): return (b ? "true" : "false", nil)
        case .null: return ("", nil)
        default: return (CanonicalJSON.string(value), nil)
        }
    }
}
