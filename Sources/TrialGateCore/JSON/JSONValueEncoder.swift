/// Encodes an `Encodable` value as a `JSONValue`: the one bridge from typed values (replies above all) to the JSON
/// the wire and the log carry, so that a typed value is encoded once, at the edge, by `CanonicalJSON`.
///
/// How values map:
/// - Numbers of every integer and floating-point type are `.number(Double)`, as `JSONValue` holds every number
///   (integers beyond 2^53 lose precision, as they would in any RFC 8785 encoder). A number that is not finite cannot
///   be written as JSON: encoding it throws.
/// - A `JSONValue` member is written as it is (open documents such as a record's payload or a signed statement).
/// - **A nil optional is written as `null`**: the keyed container's `encodeIfPresent` writes an explicit `null`
///   member, which is what most replies carry (`"next_after": null`). A member that must be *absent* when nil is
///   declared `@OmittedWhenNil` (or the type writes its own `encode(to:)`).
/// - A value that encodes nothing at all (an `@OmittedWhenNil` that is nil) leaves no member behind.
/// - A type that asks for no container encodes as `{}`.
public struct JSONValueEncoder {
    public init() {}

    /// The JSON form of `value`.
    /// - Throws: `EncodingError.invalidValue` for a number that is not finite.
    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let json = EncodingNode.prebuilt(value) { return json }
        return try encodeByCoding(value)
    }

    /// The JSON form of `value` through its `Codable` encoding alone, even when it builds its own (`BuildsOwnJSON`):
    /// what a test compares that JSON with.
    public func encodeByCoding<T: Encodable>(_ value: T) throws -> JSONValue {
        let node = EncodingNode()
        try value.encode(to: NodeEncoder(node: node, codingPath: []))
        return node.resolved ?? .object([:])
    }
}

/// A type that builds its own JSON, equal to its `Codable` encoding (a test of each such type checks it against
/// `encodeByCoding`): the encoder takes it as it is. For the values encoded often or in bulk (a decision on every
/// `decide`, a report's screening log), where going member by member through `Encoder` costs too much.
public protocol BuildsOwnJSON: Encodable {
    var json: JSONValue { get }
}

/// One value being built: a leaf, or an object or array whose members are values already built or nodes of their
/// own (containers hand out references to nested ones, as `Encoder` asks). A member that is a plain value (a string,
/// a number, a `JSONValue`) is stored as it is, without a node of its own: replies are mostly such leaves. The members
/// are mutated in place, so a long array is built in linear time.
final class EncodingNode {
    /// A member or element: a value, or a node still being built.
    enum Slot {
        case value(JSONValue)
        case node(EncodingNode)

        var resolved: JSONValue? {
            switch self {
            case .value(let v): v
            case .node(let n): n.resolved
            }
        }
    }

    var leaf: JSONValue?
    var members: [String: Slot]?
    var elements: [Slot]?

    /// The value built, or nil when nothing was encoded.
    var resolved: JSONValue? {
        if let leaf { return leaf }
        if let members { return .object(members.compactMapValues(\.resolved)) }
        if let elements { return .array(elements.map { $0.resolved ?? .null }) }
        return nil
    }

    /// Whether nothing was encoded here.
    var isEmpty: Bool { leaf == nil && members == nil && elements == nil }

    func member(_ key: String) -> EncodingNode {
        becomeObject()
        let child = EncodingNode()
        members![key] = .node(child)
        return child
    }

    func appended() -> EncodingNode {
        becomeArray()
        let child = EncodingNode()
        elements!.append(.node(child))
        return child
    }

    /// Sets member `key` to a value built already.
    func put(_ value: JSONValue, forKey key: String) {
        becomeObject()
        members![key] = .value(value)
    }

    /// Appends a value built already.
    func append(_ value: JSONValue) {
        becomeArray()
        elements!.append(.value(value))
    }

    func becomeObject() {
        guard members == nil else { return }
        (leaf, elements, members) = (nil, nil, [:])
    }

    func becomeArray() {
        guard elements == nil else { return }
        (leaf, members, elements) = (nil, nil, [])
    }

    func set(_ value: JSONValue) { (members, elements, leaf) = (nil, nil, value) }

    /// The JSON of a value the encoder takes as it is: a `JSONValue`, or a value that builds its own (`BuildsOwnJSON`).
    static func prebuilt<T: Encodable>(_ value: T) -> JSONValue? {
        if let json = value as? JSONValue { return json }
        return (value as? any BuildsOwnJSON)?.json
    }

    /// Stores `value` here: a `JSONValue` as it is, any other value through its own `encode(to:)`.
    func store<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        if let json = Self.prebuilt(value) {
            set(json)
        } else {
            try value.encode(to: NodeEncoder(node: self, codingPath: codingPath))
        }
    }

    static func number<F: BinaryFloatingPoint>(_ value: F, codingPath: [any CodingKey]) throws -> JSONValue {
        let d = Double(value)
        guard d.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSON has no representation for \(d)"))
        }
        return .number(d)
    }
}

struct NodeEncoder: Encoder {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.becomeObject()
        return KeyedEncodingContainer(NodeKeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.becomeArray()
        return NodeUnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { NodeSingleContainer(node: node, codingPath: codingPath) }
}
