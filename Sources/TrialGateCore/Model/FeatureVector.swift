/// The features of one `radiomics.recorded` event: each name with its value and UCUM unit.
public struct FeatureVector: Sendable, Equatable {
    public struct Value: Sendable, Equatable {
        public let value: Double
        public let unit: String
    }

    public let values: [String: Value]

    /// The most features one record may carry.
    public static let maximumCount = 2000

    /// Reads a record's `features` member; nil if it is not a feature map (the schema says why).
    public init?(_ json: JSONValue?) {
        guard case .object(let members)? = json else { return nil }
        var values: [String: Value] = [:]
        for (name, item) in members {
            guard let v = item["value"]?.numberValue, let unit = item["unit"]?.stringValue else { return nil }
            values[name] = Value(value: v, unit: unit)
        }
        self.values = values
    }

    /// Checks a `features` member: 1 to `maximumCount` names, each `{"value": number, "unit": UCUM text}`.
    /// - Throws: `invalid_field` naming the feature and what is wrong with it.
    static func validate(_ json: JSONValue, context: String) throws {
        guard case .object(let members) = json, (1...maximumCount).contains(members.count) else {
            throw TrialGateError(.invalidField, "\(context): \"features\" must be an object of 1 to \(maximumCount) features, each {\"value\": number, \"unit\": UCUM}")
        }
        for (name, item) in members.sorted(by: { $0.key < $1.key }) {
            let at = "\(context): feature \"\(name)\""
            try checkName(name, context: at)
            guard case .object(let m) = item else { throw TrialGateError(.invalidField, "\(at) must be {\"value\": number, \"unit\": UCUM text}, got \(CanonicalJSON.string(item))") }
            if let extra = m.keys.first(where: { $0 != "value" && $0 != "unit" }) {
                throw TrialGateError(.unknownField, "\(at): unknown member \"\(extra)\" (allowed: value, unit)")
            }
            guard let v = m["value"], v.numberValue != nil else {
                throw TrialGateError(.invalidField, "\(at): value must be a number, got \(m["value"].map(CanonicalJSON.string) ?? "nothing")")
            }
            guard let unit = m["unit"]?.stringValue else {
                throw TrialGateError(.invalidField, "\(at): unit must be a UCUM unit as text (\"[hnsf'U]\", \"mm\", \"1\"), got \(m["unit"].map(CanonicalJSON.string) ?? "nothing")")
            }
            try checkUnit(unit, context: at)
        }
    }

    /// A feature name: 1 to 64 letters, digits, `.`, `_` or `-` (as pyradiomics writes them, `original_firstorder_Mean`).
    static func checkName(_ name: String, context: String) throws {
        if !RecordSchema.isIdentifier(name) { throw TrialGateError(.invalidField, "\(context): the name \"\(name)\" must be 1 to 64 letters, digits, '.', '_' or '-'") }
    }

    /// A UCUM unit code: 1 to 32 printable ASCII characters without spaces (`[hnsf'U]`, `mm2`, `1`).
    static func checkUnit(_ unit: String, context: String) throws {
        let ok = !unit.isEmpty && unit.utf8.count <= 32 && unit.utf8.allSatisfy { (0x21...0x7E).contains($0) }
        if !ok { throw TrialGateError(.invalidField, "\(context): unit \"\(unit)\" must be a UCUM code of 1 to 32 printable characters without spaces") }
    }

    /// The values `artifact` takes, in its order, or why they cannot be given: a feature not recorded, or recorded in
    /// another unit than the model's.
    public func inputs(for artifact: ModelArtifact) -> (values: [Double]?, problem: String?) {
        var x: [Double] = []
        x.reserveCapacity(artifact.features.count)
        for f in artifact.features {
            guard let v = values[f.name] else { return (nil, "feature \(f.name) is not recorded") }
            guard v.unit == f.unit else { return (nil, "feature \(f.name) is recorded in \(v.unit); the model takes it in \(f.unit)") }
            x.append(v.value)
        }
        return (x, nil)
    }
}
