/// How a field's value typed as text (`name=value` on the command line, a cell of an import file) becomes JSON: one
/// rule for both, so an imported record's payload is byte for byte what `record` writes for the same text.
public enum FieldText {
    /// Numbers, booleans, `null`, lists and objects parse as JSON; anything else is text (`2026-03-02`, `2 10*9/L`).
    public static func value(_ raw: String) -> JSONValue {
        if let v = try? JSONParser.parse(raw) { return v }
        return .string(raw)
    }
}
