/// An `entry.corrected` event's payload, decoded once: which record, which field, the value it had and the value it
/// has from now on, and why. Every projection (the candidate fold, the report's fold, the dispatcher's site lookup)
/// applies corrections through `applied(to:)`, the one rule.
public struct EntryCorrection: Sendable, Equatable {
    public let seq: Int64
    /// The record corrected.
    public let corrects: Int64
    public let field: String
    public let oldValue: JSONValue
    public let newValue: JSONValue
    public let reason: String

    /// The correction an event carries, or nil if it is not a well-formed `entry.corrected` (the fold refuses those).
    public init?(_ event: Event) {
        guard event.type == .entryCorrected else { return nil }
        self.init(seq: event.seq, payload: event.payload)
    }

    /// The correction a payload describes, for the event `seq` that carries (or will carry) it.
    public init?(seq: Int64, payload p: JSONValue) {
        guard let corrects = p["corrects"]?.intValue, let field = p["field"]?.stringValue, let reason = p["reason"]?.stringValue else { return nil }
        (self.seq, self.corrects, self.field, self.reason) = (seq, Int64(corrects), field, reason)
        (oldValue, newValue) = (p["old_value"] ?? .null, p["new_value"] ?? .null)
    }

    /// A record's fields after this correction: the field takes the new value, or is removed when it is null (a
    /// correction may withdraw an optional field, or add one that was omitted).
    public func applied(to fields: JSONValue) -> JSONValue {
        guard case .object(var members) = fields else { return fields }
        members[field] = newValue == .null ? nil : newValue
        return .object(members)
    }
}

/// The facts of a `candidate.registered` record, the one place that reads them: its site and consent date, as
/// given or as corrections leave them.
public enum Registration {
    /// The site a registration's fields name ("" if none).
    public static func site(_ fields: JSONValue) -> String { fields["site"]?.stringValue ?? "" }

    /// The consent date a registration's fields give (null if none).
    public static func consentDate(_ fields: JSONValue) -> JSONValue { fields["consent_date"] ?? .null }

    /// A registration's fields after the corrections of it among `corrections`, applied in log order.
    public static func corrected(_ registration: Event, by corrections: some Sequence<EntryCorrection>) -> JSONValue {
        corrections.reduce(registration.payload) { fields, c in c.corrects == registration.seq ? c.applied(to: fields) : fields }
    }
}
