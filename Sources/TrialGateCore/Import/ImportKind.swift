/// What a row of an import file can be: a registration (`register`) or a clinical record of a kind
/// `record KIND` takes. Attestations are investigators' signed statements and are never imported.
public enum ImportKind {
    /// The `kind` of a registration row.
    public static let registration = "register"

    /// Every kind a row may name, and the event it becomes.
    public static let all: [String: EventType] = {
        var kinds = EventType.recordKinds.filter { $0.value != .attestationRecorded }
        kinds[registration] = .candidateRegistered
        return kinds
    }()

    /// The columns every file has besides the fields: the row's kind, its candidate and the candidate's site.
    public static let fixedColumns = ["kind", "candidate", "site"]

    /// The schema a row of `type` is checked against: the current event schema's.
    static func schema(_ type: EventType) -> RecordSchema { RecordSchema.of(type, version: Event.currentSchemaVersion)! }

    /// Every column a file may have: the fixed ones, then each kind's fields, in a stable order.
    public static let columns: [String] = {
        var seen = Set(fixedColumns)
        var out = fixedColumns
        for kind in all.keys.sorted() {
            for spec in schema(all[kind]!).fields where seen.insert(spec.name).inserted { out.append(spec.name) }
        }
        return out
    }()
}
