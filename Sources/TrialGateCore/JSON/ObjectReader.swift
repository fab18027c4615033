/// Reads the members of a JSON object one by one and refuses members nobody asked for.
///
/// Refusing unknown members is how the log keeps out direct identifiers (names, birth dates) that a
/// client might try to slip into a record.
public struct ObjectReader {
    private let members: [String: JSONValue]
    /// Names asked for so far (few, so a list beats a set).
    private var seen: [String] = []
    /// Names the object in error messages ("ki67 record", "policy case 3").
    public let context: String

    /// - Throws: `invalid_field` when `value` is not an object.
    public init(_ value: JSONValue, context: String) throws {
        guard case .object(let o) = value else {
            throw TrialGateError(.invalidField, "\(context) must be a JSON object, not \(value.typeName)")
        }
        members = o
        self.context = context
    }

    /// Whether the member is present and not null.
    public func has(_ key: String) -> Bool {
        if let v = members[key], v != .null { return true }
        return false
    }

    /// The raw member, required.
    public mutating func value(_ key: String) throws -> JSONValue {
        if !seen.contains(key) { seen.append(key) }
        guard let v = members[key], v != .null else { throw TrialGateError(.missingField, "\(context): \"\(key)\" is required") }
        return v
    }

    /// The raw member, or nil when absent or null.
    /// A member as given, `null` included (nil only when absent).
    public mutating func member(_ key: String) -> JSONValue? {
        if !seen.contains(key) { seen.append(key) }
        return members[key]
    }

    public mutating func optionalValue(_ key: String) -> JSONValue? {
        if !seen.contains(key) { seen.append(key) }
        guard let v = members[key], v != .null else { return nil }
        return v
    }

    public mutating func string(_ key: String) throws -> String {
        let v = try value(key)
        guard let s = v.stringValue else { throw typeError(key, "a string", v) }
        return s
    }

    public mutating func optionalString(_ key: String) throws -> String? {
        guard let v = optionalValue(key) else { return nil }
        guard let s = v.stringValue else { throw typeError(key, "a string", v) }
        return s
    }

    public mutating func integer(_ key: String) throws -> Int {
        let v = try value(key)
        guard let i = v.intValue else { throw typeError(key, "an integer", v) }
        return i
    }

    public mutating func optionalInteger(_ key: String) throws -> Int? {
        guard let v = optionalValue(key) else { return nil }
        guard let i = v.intValue else { throw typeError(key, "an integer", v) }
        return i
    }

    public mutating func optionalBool(_ key: String) throws -> Bool? {
        guard let v = optionalValue(key) else { return nil }
        guard let b = v.boolValue else { throw typeError(key, "true or false", v) }
        return b
    }

    /// Throws `unknown_field` naming every member that was never read.
    /// Names of the object not asked for so far.
    public var remainingKeys: [String] { members.keys.filter { !seen.contains($0) }.sorted() }

    public func finish() throws {
        if members.count <= seen.count, members.keys.allSatisfy(seen.contains) { return }
        let unknown = members.keys.filter { !seen.contains($0) }.sorted()
        if !unknown.isEmpty {
            let list = unknown.map { "\"\($0)\"" }.joined(separator: ", ")
            throw TrialGateError(.unknownField, "\(context): unknown field\(unknown.count > 1 ? "s" : "") \(list)")
        }
    }

    private func typeError(_ key: String, _ expected: String, _ got: JSONValue) -> TrialGateError {
        TrialGateError(.invalidField, "\(context): \"\(key)\" must be \(expected), not \(got.typeName)")
    }
}
