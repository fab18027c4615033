/// `JSONValue` is itself `Codable`, so a typed value can carry an open document (a record's payload, a signed
/// statement, an event as stored) as a member. `JSONValueEncoder` and `JSONValueDecoder` take it as it is; other
/// coders go through the containers below.
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: JSONCodingKey.self) {
            var members: [String: JSONValue] = [:]
            for key in container.allKeys { members[key.stringValue] = try container.decode(JSONValue.self, forKey: key) }
            self = .object(members)
        } else if var container = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !container.isAtEnd { elements.append(try container.decode(JSONValue.self)) }
            self = .array(elements)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                self = .null
            } else if let b = try? single.decode(Bool.self) {
                self = .bool(b)
            } else if let n = try? single.decode(Double.self) {
                self = .number(n)
            } else {
                self = .string(try single.decode(String.self))
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .number(let n):
            var c = encoder.singleValueContainer()
            try c.encode(n)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let elements):
            var c = encoder.unkeyedContainer()
            for e in elements { try c.encode(e) }
        case .object(let members):
            var c = encoder.container(keyedBy: JSONCodingKey.self)
            for (k, v) in members { try c.encode(v, forKey: JSONCodingKey(k)) }
        }
    }
}

/// A member written only when it has a value: nil leaves no member at all (where `JSONValueEncoder` otherwise
/// writes `null`), and an absent member decodes as nil. For replies whose wire form omits a member (`log_warning`,
/// a proof's `checkpoint`).
@propertyWrapper
public struct OmittedWhenNil<Value> {
    public var wrappedValue: Value?
    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }
}

extension OmittedWhenNil: Sendable where Value: Sendable {}
extension OmittedWhenNil: Equatable where Value: Equatable {}

extension OmittedWhenNil: Encodable where Value: Encodable {
    /// Encodes the value, or nothing (the keyed container below then leaves the member out).
    public func encode(to encoder: any Encoder) throws {
        guard let wrappedValue else { return }
        try wrappedValue.encode(to: encoder)
    }
}

extension OmittedWhenNil: Decodable where Value: Decodable {
    public init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        wrappedValue = single.decodeNil() ? nil : try single.decode(Value.self)
    }
}

extension KeyedEncodingContainer {
    public mutating func encode<V: Encodable>(_ value: OmittedWhenNil<V>, forKey key: Key) throws {
        guard let v = value.wrappedValue else { return }
        try encode(v, forKey: key)
    }
}

extension KeyedDecodingContainer {
    public func decode<V: Decodable>(_ type: OmittedWhenNil<V>.Type, forKey key: Key) throws -> OmittedWhenNil<V> {
        OmittedWhenNil(wrappedValue: try decodeIfPresent(V.self, forKey: key))
    }
}
