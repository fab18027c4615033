/// A JSON value as the log, the protocol and the policies see it.
///
/// Numbers are IEEE-754 doubles, as RFC 8785 (JCS) requires for canonical form.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The string inside, if this is a string.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The number inside, if this is a number.
    public var numberValue: Double? { if case .number(let n) = self { return n } else { return nil } }
    /// The Boolean inside, if this is a Boolean.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    /// The members, if this is an object.
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o } else { return nil } }

    /// The number as an exact integer, if it is one.
    public var intValue: Int? {
        guard case .number(let n) = self, n.rounded() == n, abs(n) < 9_007_199_254_740_992 else { return nil }
        return Int(n)
    }

    /// Member lookup on objects; `nil` for anything else.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// A short name of the JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// Wraps an optional, mapping `nil` to JSON `null`.
    public static func from(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
    /// Wraps an optional number, mapping `nil` to JSON `null`.
    public static func from(_ value: Double?) -> JSONValue { value.map { .number($0) } ?? .null }
    /// Wraps an optional integer, mapping `nil` to JSON `null`.
    public static func from(_ value: Int?) -> JSONValue { value.map { .number(Double($0)) } ?? .null }
}
