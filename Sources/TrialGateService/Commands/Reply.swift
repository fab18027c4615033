import TrialGateCore

/// A typed reply of a view or a listing: one `Codable` value whose encoding (`JSONValueEncoder`) is the document
/// `docs/protocol.md` describes, member for member, and which the command line renders from directly.
public protocol ReplyView: Codable, Sendable {
    /// The reply's encoding: the `result` of a reply line.
    var json: JSONValue { get }
    /// Why what the reply shows is not covered by a valid signed checkpoint, for the replies that can say so.
    var logWarning: String? { get }
}

extension ReplyView {
    public var json: JSONValue {
        do {
            return try JSONValueEncoder().encode(self)
        } catch {
            // Replies hold strings, integers, finite numbers and JSON values: encoding them cannot fail.
            preconditionFailure("a reply failed to encode: \(error)")
        }
    }

    public var logWarning: String? { nil }
}

/// What a command answers, as a typed value: the command line renders it, and the wire carries its one encoding,
/// `json` (`Dispatcher.execute` and the socket answer exactly that).
///
/// Writes answer a typed `WriteReceipt`; every view and listing (`show`, `decisions`, `report`, `verify`, …) answers
/// its own `ReplyView`. A reply that came over a socket is `received` JSON until `decode(_:)` types it, so a client
/// reads a served reply and an in-process one the same way.
public enum Reply: Sendable {
    case written(WriteReceipt)
    case view(any ReplyView)
    /// A reply's `result` as read from a reply line (a socket client's), not typed yet.
    case received(JSONValue)

    /// The reply's one encoding: the `result` of a reply line.
    public var json: JSONValue {
        switch self {
        case .written(let receipt): receipt.json
        case .view(let view): view.json
        case .received(let value): value
        }
    }

    /// The reply as `T`: the value itself in process, or decoded from its JSON when it came over a socket (or is
    /// another type's reply, which then fails to decode, naming the member that does not fit).
    /// - Throws: `TrialGateError` (`invalid_field`, `missing_field`) naming the reply's member that does not fit `T`.
    public func decode<T: ReplyView>(_ type: T.Type) throws -> T {
        switch self {
        case .view(let view as T): return view
        case .written(let receipt as T): return receipt
        default: return try JSONValueDecoder(context: "reply").decode(T.self, from: json)
        }
    }
}
