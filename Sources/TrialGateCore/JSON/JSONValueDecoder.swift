/// Decodes a `Decodable` value from a `JSONValue`: the other half of `JSONValueEncoder`, for a reply that came over
/// a socket (`trialgate signoff --connect`) and for tests that check what the wire carried.
///
/// Absent and `null` members both decode as nil optionals. Unknown members are ignored (a reply may grow).
/// An integer must be a number with no fraction within the type's range. Failures are `TrialGateError`s with code
/// `invalid_field` whose message names the member's path and what was expected, e.g.
/// `reply.decisions[2].seq: expected an integer, found "7"`.
public struct JSONValueDecoder {
    /// The name of the whole value in error messages.
    public var context: String

    public init(context: String = "reply") { self.context = context }

    /// - Throws: `TrialGateError` (`invalid_field`, `missing_field`) naming the path of the first member that does not fit.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        do {
            return try ValueDecoder(value: value, codingPath: []).decode(T.self)
        } catch let error as DecodingError {
            throw Self.describe(error, context: context)
        }
    }

    /// `path: what was wrong`, with the path written as `reply.member[index].member`.
    static func describe(_ error: DecodingError, context: String) -> TrialGateError {
        switch error {
        case .keyNotFound(let key, let c):
            return TrialGateError(.missingField, "\(path(c.codingPath + [key], context)): is required and missing")
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return TrialGateError(.invalidField, "\(path(c.codingPath, context)): \(c.debugDescription)")
        @unknown default:
            return TrialGateError(.invalidField, "\(context): \(error)")
        }
    }

    static func path(_ keys: [any CodingKey], _ context: String) -> String {
        keys.reduce(context) { text, key in key.intValue.map { text + "[\($0)]" } ?? text + "." + key.stringValue }
    }
}

/// A value being decoded, and where it is.
struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch(Any.self, "an object") }
        return KeyedDecodingContainer(ValueKeyedContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch(Any.self, "an array") }
        return ValueUnkeyedContainer(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { ValueSingleContainer(decoder: self) }

    func mismatch(_ type: Any.Type, _ expected: String) -> DecodingError {
        DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(Self.describe(value))"))
    }

    /// The value in an error message: short scalars as they are written, containers by their type.
    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .object, .array: return value.typeName
        default:
            let text = CanonicalJSON.string(value)
            return text.count <= 40 ? text : value.typeName
        }
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        return try T(from: self)
    }

    func string() throws -> String {
        guard case .string(let s) = value else { throw mismatch(String.self, "a string") }
        return s
    }

    func bool() throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch(Bool.self, "true or false") }
        return b
    }

    func double() throws -> Double {
        guard case .number(let n) = value else { throw mismatch(Double.self, "a number") }
        return n
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard case .number(let n) = value, n.rounded(.towardZero) == n, let i = I(exactly: n) else {
            throw mismatch(I.self, "an integer")
        }
        return i
    }
}
