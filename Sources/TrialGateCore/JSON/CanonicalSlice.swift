/// The bytes of one value inside a canonical JSON text, found without parsing it.
///
/// RFC 8785 writes an object member by member, each value written on its own the same way, so in a text that is the
/// canonical form of its value, the bytes of any member's value are that value's canonical form. A verifier that has
/// already checked a stored body is canonical takes a signed decision's bytes from it this way, instead of encoding the
/// decision again.
public enum CanonicalSlice {
    /// The range of the value reached by following the member names of `path` from the top-level object of `text`, or
    /// nil when a member is missing, a value on the way is not an object, or the text is not well-formed where it is
    /// scanned. Member names are compared with the bytes RFC 8785 writes for them (their UTF-8, with a quote, a
    /// backslash or a control character escaped).
    public static func range(of path: [String], in text: [UInt8]) -> Range<Int>? {
        text.withUnsafeBufferPointer { bytes in
            var scanner = Scanner(bytes: bytes)
            for (depth, name) in path.enumerated() {
                guard scanner.peek() == UInt8(ascii: "{") else { return nil }
                scanner.i += 1
                let wanted = CanonicalJSON.encode(.string(name)).dropFirst().dropLast()  // the name as the text writes it
                var found = false
                while scanner.peek() == UInt8(ascii: "\"") {
                    guard let key = scanner.string() else { return nil }
                    guard scanner.peek() == UInt8(ascii: ":") else { return nil }
                    scanner.i += 1
                    if bytes[key].elementsEqual(wanted) {
                        found = true
                        break
                    }
                    guard scanner.skipValue() else { return nil }
                    guard scanner.peek() == UInt8(ascii: ",") else { return nil }
                    scanner.i += 1
                }
                guard found else { return nil }
                if depth == path.count - 1 {
                    let start = scanner.i
                    guard scanner.skipValue() else { return nil }
                    return start..<scanner.i
                }
            }
            return nil
        }
    }

    /// A forward scan over JSON without whitespace (the canonical form has none).
    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        /// Skips a string starting at `i`; answers the range of its contents (between the quotes).
        mutating func string() -> Range<Int>? {
            guard peek() == UInt8(ascii: "\"") else { return nil }
            i += 1
            let start = i
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""):
                    i += 1
                    return start..<(i - 1)
                default: i += 1
                }
            }
            return nil
        }

        /// Skips one value starting at `i`.
        mutating func skipValue() -> Bool {
            guard let c = peek() else { return false }
            switch c {
            case UInt8(ascii: "\""):
                return string() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while let b = peek() {
                    switch b {
                    case UInt8(ascii: "\""):
                        guard string() != nil else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            i += 1
                            return true
                        }
                    default: break
                    }
                    i += 1
                }
                return false
            default:
                // A number or a literal: up to the next separator.
                let start = i
                while let b = peek(), b != UInt8(ascii: ","), b != UInt8(ascii: "}"), b != UInt8(ascii: "]") { i += 1 }
                return i > start
            }
        }
    }
}
