import TrialGateAudit

/// The FHIR logical id of a resource named by a TrialGate identifier (a trial id or a candidate id).
///
/// FHIR ids are `[A-Za-z0-9\-\.]{1,64}` (FHIR R4, datatypes, `id`); TrialGate identifiers also allow `_`. No mapping
/// from the one set into the other can be both injective and length-preserving (there are more 64-character
/// identifiers than ids), so an identifier is kept as it is when it already is a FHIR id, and otherwise becomes a
/// readable prefix, `--` and 20 hex digits of the SHA-256 of its exact bytes. An identifier that happens to have that
/// shape is mapped too, so a kept identifier never equals a mapped one; two mapped ones differ unless 80 bits of
/// SHA-256 collide, and the export checks that its ids are distinct anyway. The original is always exported beside
/// the id as an `identifier`, so nothing is lost.
public enum FHIRID {
    /// The most characters a FHIR id has.
    public static let maximumLength = 64
    /// How many hex digits of the SHA-256 a mapped id ends with.
    static let hashDigits = 20
    static let separator = "--"

    /// The FHIR id of `identifier`: itself when it is a FHIR id that does not look mapped, else mapped.
    public static func of(_ identifier: String) -> String {
        if isValid(identifier), !looksMapped(identifier) { return identifier }
        let keep = maximumLength - separator.count - hashDigits
        var prefix = String(String.UnicodeScalarView(identifier.unicodeScalars.prefix(keep).map { isIDCharacter($0) ? $0 : "-" }))
        if prefix.isEmpty { prefix = "id" }
        return prefix + separator + Digest.sha256Hex(identifier).prefix(hashDigits)
    }

    /// Whether `text` is a FHIR id: 1 to 64 letters, digits, `-` or `.`.
    public static func isValid(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.count <= maximumLength && text.unicodeScalars.allSatisfy(isIDCharacter)
    }

    /// Whether `text` ends as a mapped id does: `--` and 20 lower-case hex digits.
    static func looksMapped(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count >= separator.count + hashDigits else { return false }
        let tail = scalars.suffix(hashDigits)
        let sep = scalars.dropLast(hashDigits).suffix(separator.count)
        return String(String.UnicodeScalarView(sep)) == separator && tail.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    private static func isIDCharacter(_ s: Unicode.Scalar) -> Bool {
        ("A"..."Z").contains(s) || ("a"..."z").contains(s) || ("0"..."9").contains(s) || s == "-" || s == "."
    }
}
